package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	kpack "github.com/pivotal/kpack/pkg/apis/build/v1alpha2"
	"sigs.k8s.io/yaml"
)

func manifestFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"kpack/*.yaml", "tekton/*.yaml", "requests/*.yaml"} {
		found, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, found...)
	}
	if len(files) < 6 {
		t.Fatalf("expected the kpack, Tekton and request manifests, found %v", files)
	}
	return files
}

// Every manifest of deploy/ passes Tekton's and kpack's own validation.
func TestManifestsPassTheirValidation(t *testing.T) {
	for _, file := range manifestFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		count, errs := validateDocuments(data)
		if len(errs) > 0 {
			t.Errorf("%s: %v", file, errs)
		}
		if count == 0 {
			t.Errorf("%s has no document", file)
		}
	}
}

// The validation is real: what kpack and Tekton refuse, the tool refuses, naming the document,
// the object and the field.
func TestInvalidManifestsAreRefused(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"kpack tag": {`apiVersion: kpack.io/v1alpha2
kind: Image
metadata: {name: app}
spec:
  tag: Registry.example.com/UPPER:tag
  builder: {kind: ClusterBuilder, name: blacklodge-bookworm}
  source: {git: {url: https://example.com/app.git, revision: main}}
`, `document 1 (kpack.io/v1alpha2 Image "app"): invalid value: Registry.example.com/UPPER:tag: spec.tag`},
		"kpack stack without run image": {`apiVersion: kpack.io/v1alpha2
kind: ClusterStack
metadata: {name: blacklodge-bookworm}
spec:
  id: io.blacklodge.stacks.bookworm
  buildImage: {image: registry.example.com/blacklodge/build:bookworm}
`, `document 1 (kpack.io/v1alpha2 ClusterStack "blacklodge-bookworm"): missing field(s): spec.runImage.image`},
		"tekton pipeline run without pipeline": {`apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: build-1}
spec:
  params: [{name: app-image, value: registry.example.com/app:1}]
`, `document 1 (tekton.dev/v1 PipelineRun "build-1"): expected exactly one, got neither: spec.pipelineRef, spec.pipelineSpec`},
		"unknown field": {`apiVersion: kpack.io/v1alpha2
kind: ClusterBuilder
metadata: {name: b}
spec:
  tag: registry.example.com/b:1
  stack: {kind: ClusterStack, name: s}
  store: {kind: ClusterStore, name: s}
  orders: []
`, `document 1 (kpack.io/v1alpha2 ClusterBuilder "b"): does not match the ClusterBuilder schema: error unmarshaling JSON: while decoding JSON: json: unknown field "orders"`},
		"unknown kind": {`apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
`, `document 1 (apps/v1 Deployment "d"): not a Tekton (tekton.dev/v1) or kpack (kpack.io/v1alpha2) kind this tool validates`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, errs := validateDocuments([]byte("# a comment document\n---\n" + c.yaml))
			if len(errs) != 1 || errs[0].Error() != c.want {
				t.Fatalf("got %v\nwant %q", errs, c.want)
			}
		})
	}
}

// The suites of BLACKLODGE_STACKS in bench/versions.env (SUITE:VERSION_ID each), the one list
// of stacks.
func stacks(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../bench/versions.env")
	if err != nil {
		t.Fatal(err)
	}
	match := regexp.MustCompile(`(?m)^BLACKLODGE_STACKS="([^"]*)"$`).FindSubmatch(data)
	if match == nil {
		t.Fatal(`bench/versions.env has no BLACKLODGE_STACKS="..." line`)
	}
	var suites []string
	for _, stack := range strings.Fields(string(match[1])) {
		suite, _, _ := strings.Cut(stack, ":")
		suites = append(suites, suite)
	}
	return suites
}

// The request tool's default stacks are the platform's (BLACKLODGE_STACKS), default first.
func TestDefaultStacksAreTheBenchStacks(t *testing.T) {
	if got, want := strings.Join(defaultOptions().Stacks, " "), strings.Join(stacks(t), " "); got != want {
		t.Errorf("defaultOptions().Stacks = %q; BLACKLODGE_STACKS has %q", got, want)
	}
}

// Every stack has its kpack ClusterStack (the stack's images and id) and ClusterBuilder.
func TestEveryStackHasKpackStackAndBuilder(t *testing.T) {
	data, err := os.ReadFile("kpack/stacks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	clusterStacks := map[string]kpack.ClusterStack{}
	clusterBuilders := map[string]kpack.ClusterBuilder{}
	for _, document := range strings.Split(string(data), "\n---\n") {
		var header struct{ Kind string }
		if err := yaml.Unmarshal([]byte(document), &header); err != nil {
			t.Fatal(err)
		}
		switch header.Kind {
		case "ClusterStack":
			var s kpack.ClusterStack
			if err := yaml.Unmarshal([]byte(document), &s); err != nil {
				t.Fatal(err)
			}
			clusterStacks[s.Name] = s
		case "ClusterBuilder":
			var b kpack.ClusterBuilder
			if err := yaml.Unmarshal([]byte(document), &b); err != nil {
				t.Fatal(err)
			}
			clusterBuilders[b.Name] = b
		}
	}
	if len(clusterStacks) != len(stacks(t)) || len(clusterBuilders) != len(stacks(t)) {
		t.Errorf("kpack/stacks.yaml has %d ClusterStacks and %d ClusterBuilders for the stacks %v", len(clusterStacks), len(clusterBuilders), stacks(t))
	}
	for _, stack := range stacks(t) {
		name := "blacklodge-" + stack
		s, ok := clusterStacks[name]
		if !ok {
			t.Errorf("kpack/stacks.yaml: no ClusterStack %s for the stack %s of BLACKLODGE_STACKS", name, stack)
			continue
		}
		if s.Spec.Id != "io.blacklodge.stacks."+stack || !strings.HasSuffix(s.Spec.BuildImage.Image, "/build:"+stack) || !strings.HasSuffix(s.Spec.RunImage.Image, "/run:"+stack) {
			t.Errorf("ClusterStack %s: id %s, build image %s, run image %s do not name the stack %s", name, s.Spec.Id, s.Spec.BuildImage.Image, s.Spec.RunImage.Image, stack)
		}
		b, ok := clusterBuilders[name]
		if !ok {
			t.Errorf("kpack/stacks.yaml: no ClusterBuilder %s for the stack %s of BLACKLODGE_STACKS", name, stack)
			continue
		}
		if b.Spec.Stack.Name != name || len(b.Spec.Order) != 1 || b.Spec.Order[0].Group[0].Id != "blacklodge/python-app" {
			t.Errorf("ClusterBuilder %s: stack %s, order %+v; want the stack %s and the composite blacklodge/python-app", name, b.Spec.Stack.Name, b.Spec.Order, name)
		}
	}
}

func runTool(args []string, stdin string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// The example request becomes the committed deploy/requests/example.yaml (kept in step with
// the tool: regenerate with `go run . request requests/example.json > requests/example.yaml`),
// and every field of the request lands where docs/platform.md says.
func TestExampleRequestMapping(t *testing.T) {
	code, out, stderr := runTool([]string{"request", "requests/example.json"}, "")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	committed, err := os.ReadFile("requests/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(committed) {
		t.Errorf("requests/example.yaml differs from the tool's output:\n%s", out)
	}
	documents := strings.Split(strings.TrimPrefix(out, "---\n"), "\n---\n")
	if len(documents) != 3 {
		t.Fatalf("want 2 kpack Images (one per registry) and a PipelineRun, got %d documents", len(documents))
	}
	var images [2]kpack.Image
	for i := range images {
		if err := yaml.UnmarshalStrict([]byte(documents[i]), &images[i]); err != nil {
			t.Fatal(err)
		}
	}
	first, second := images[0], images[1]
	checks := []struct{ got, want string }{
		{first.Name, "greeter-1"},
		{first.Namespace, "team-models"},
		{first.Spec.Tag, "registry.example.com/models/greeter:1.4.0"},
		{strings.Join(first.Spec.AdditionalTags, " "), "registry.example.com/models/greeter:latest"},
		{second.Spec.Tag, "mirror.example.org/backup/models/greeter:1.4.0"},
		{strings.Join(second.Spec.AdditionalTags, " "), "mirror.example.org/backup/models/greeter:latest"},
		{first.Spec.Source.Git.URL, "https://github.com/pcdst/greeter-model"},
		{first.Spec.Source.Git.Revision, "3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b"},
		{first.Spec.Source.SubPath, "service"},
		{first.Spec.Builder.Kind + "/" + first.Spec.Builder.Name, "ClusterBuilder/blacklodge-bookworm"},
		{first.Annotations["blacklodge.io/git-branch"], "main"},
		{first.Annotations["blacklodge.io/aws-role-arn"], "arn:aws:iam::123456789012:role/greeter-model"},
		{first.Labels["blacklodge.io/aws-account"], "prod"},
	}
	for _, check := range checks {
		if check.got != check.want {
			t.Errorf("got %q, want %q", check.got, check.want)
		}
	}
	var env []string
	for _, variable := range first.Spec.Build.Env {
		env = append(env, variable.Name+"="+variable.Value)
	}
	wantEnv := "BP_BLACKLODGE_DEFAULT_MODE=web BP_OCI_REVISION=3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b BP_OCI_SOURCE=https://github.com/pcdst/greeter-model BP_PYTHON_VERSION=3.12"
	if strings.Join(env, " ") != wantEnv {
		t.Errorf("build env %v, want %s", env, wantEnv)
	}
	for _, want := range []string{
		"namespace: team-models", "generateName: greeter-",
		"name: git-revision\n    value: 3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b",
		"name: git-branch\n    value: main", "name: git-depth\n    value: \"1\"",
		"name: source-subpath\n    value: service",
		"name: builder-image\n    value: registry.example.com/blacklodge/builder:bookworm",
		"name: app-image\n    value: registry.example.com/models/greeter:1.4.0",
		"name: cache-image\n    value: registry.example.com/models/greeter-cache:bookworm",
		"name: additional-tags\n    value:\n    - registry.example.com/models/greeter:latest\n    - mirror.example.org/backup/models/greeter:1.4.0\n    - mirror.example.org/backup/models/greeter:latest",
		"- BP_PYTHON_VERSION=3.12",
		"serviceAccountName: blacklodge-build",
	} {
		if !strings.Contains(documents[2], want) {
			t.Errorf("the PipelineRun lacks %q:\n%s", want, documents[2])
		}
	}
}

const validRequest = `{"repository": "pcdst/app", "git_branch": "main",
 "git_commit_sha": "0123456789abcdef0123456789abcdef01234567", "image_name": "team/app",
 "namespace": "team", "registries": ["registry.example.com"]}`

// Defaults: no tags gives the commit as the tag, no depth gives 1, no stack gives the first.
func TestRequestDefaults(t *testing.T) {
	code, out, stderr := runTool([]string{"request", "--stacks", "bookworm trixie", "-"}, validRequest)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"tag: registry.example.com/team/app:0123456789abcdef0123456789abcdef01234567",
		"name: blacklodge-bookworm", "name: git-depth\n    value: \"1\"",
		"name: builder-image\n    value: registry.example.com/blacklodge/builder:bookworm",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	stacked := strings.Replace(validRequest, `"namespace"`, `"stack": "trixie", "namespace"`, 1)
	code, out, stderr = runTool([]string{"request", "--stacks", "bookworm trixie", "-"}, stacked)
	if code != 0 || !strings.Contains(out, "name: blacklodge-trixie") || !strings.Contains(out, "builder:trixie") {
		t.Errorf("stack trixie: exit %d, %s%s", code, out, stderr)
	}
}

// Each malformed request is refused with every problem, each naming its field.
func TestMalformedRequestsNameTheField(t *testing.T) {
	cases := map[string]struct{ request, want string }{
		"empty object": {`{}`, `error: the build request is not valid:
  - repository: required (owner/name, or a git URL)
  - git_branch: required (the branch the commit is on, e.g. main)
  - git_commit_sha: "" is not a full commit id (40 lower-case hex digits, as ` + "`git rev-parse HEAD`" + ` prints)
  - image_name: required (the repository path of the image, e.g. team/model)
  - namespace: required (the Kubernetes namespace of the build)
  - registries: at least one registry is required (where the image is pushed, e.g. registry.example.com)
`},
		"bad values": {`{"repository": "just-a-name", "git_branch": "feature branch", "git_commit_sha": "abc123",
 "image_name": "Team/App:1.0", "docker_context": "../elsewhere", "namespace": "Team_A",
 "image_tags": ["ok", "-bad"], "registries": ["https://registry.example.com"],
 "build_args": {"1X": "a", "CNB_USER_ID": "0"}, "git_fetch_depth": -1,
 "injected_aws_role_arn": "role/x", "stack": "centos"}`, `error: the build request is not valid:
  - repository: "just-a-name" is neither owner/name nor a git URL (https://…, ssh://…, git@host:path)
  - git_branch: "feature branch" is not a valid git branch name
  - git_commit_sha: "abc123" is not a full commit id (40 lower-case hex digits, as ` + "`git rev-parse HEAD`" + ` prints)
  - image_name: "Team/App:1.0" has a tag or digest; give the name only and the tags in image_tags
  - docker_context: "../elsewhere" must be a directory inside the repository (relative, without ..)
  - namespace: "Team_A" is not a Kubernetes namespace name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')
  - image_tags[1]: "-bad" is not a valid image tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')
  - registries[0]: "https://registry.example.com" has a scheme; give host[:port][/path] only
  - build_args["1X"]: not a valid environment variable name (letters, digits, '_'; not starting with a digit)
  - build_args["CNB_USER_ID"]: CNB_* variables belong to the lifecycle and cannot be build arguments
  - git_fetch_depth: -1 is negative (1: the commit only; 0: the whole history)
  - injected_aws_role_arn: "role/x" is not an ARN (arn:aws:iam::<account>:role/<name>)
  - stack: "centos" is not a stack of this platform (stacks: bookworm, trixie)
`},
		"wrong type":           {`{"image_tags": "latest"}`, "error: the build request is not valid:\n  - image_tags: expected a list of strings, got a JSON string\n"},
		"wrong depth type":     {`{"git_fetch_depth": "1"}`, "error: the build request is not valid:\n  - git_fetch_depth: expected an integer, got a JSON string\n"},
		"wrong build arg type": {`{"build_args": {"A": 1}}`, "error: the build request is not valid:\n  - build_args: expected an object of string values, got a JSON number\n"},
		"unknown field":        {`{"dockerfile": "Dockerfile"}`, "error: the build request is not valid:\n  - dockerfile: not a field of the build request (fields: repository, git_branch, git_commit_sha, image_name, dockerfile_path, docker_context, namespace, image_tags, injected_aws_role_arn, injected_aws_account_short_alias, registries, build_args, git_fetch_depth, stack)\n"},
		"not JSON":             {`{"repository": `, "error: the build request is not valid:\n  - not a JSON object: unexpected EOF\n"},
		"two objects":          {validRequest + validRequest, "error: the build request is not valid:\n  - more than one JSON value: send one request object\n"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, out, stderr := runTool([]string{"request", "-"}, c.request)
			if code != 1 || out != "" || stderr != c.want {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, stderr, c.want)
			}
		})
	}
}

func TestDockerfilePathIsNotedAsUnused(t *testing.T) {
	request := strings.Replace(validRequest, `"namespace"`, `"dockerfile_path": "docker/Dockerfile", "namespace"`, 1)
	code, _, stderr := runTool([]string{"request", "-"}, request)
	want := "note: dockerfile_path \"docker/Dockerfile\" is not used: the buildpacks build the source without a Dockerfile\n"
	if code != 0 || stderr != want {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	code, _, stderr := runTool([]string{"frobnicate"}, "")
	if code != 2 || !strings.HasPrefix(stderr, "error: unknown command \"frobnicate\"\nusage: blacklodge-platform COMMAND") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, _, stderr = runTool([]string{"digest"}, "")
	if code != 2 || !strings.HasPrefix(stderr, "error: digest needs one image reference\n") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// An unreachable registry is reported with what failed, why and how to fix it.
func TestUnreachableRegistry(t *testing.T) {
	code, _, stderr := runTool([]string{"check-push", "127.0.0.1:1/team/builder"}, "")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"error: cannot push to 127.0.0.1:1/team/builder\n  why: the registry 127.0.0.1:1 cannot be reached: ",
		"connect: connection refused\n  fix: check the registry host and port (BLACKLODGE_PUBLISH_REGISTRY for bench/publish), that it is running and reachable from here, and that its TLS certificate is trusted (docs/platform.md, \"Registry CA\")\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
