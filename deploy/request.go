package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	kpack "github.com/pivotal/kpack/pkg/apis/build/v1alpha2"
	kpackcore "github.com/pivotal/kpack/pkg/apis/core/v1alpha1"
	tekton "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// BuildRequest is the container-build request a platform sends (the fields of its
// `containerbuild` endpoint). docs/platform.md maps every field.
type BuildRequest struct {
	Repository                   string            `json:"repository"`
	GitBranch                    string            `json:"git_branch"`
	GitCommitSHA                 string            `json:"git_commit_sha"`
	ImageName                    string            `json:"image_name"`
	DockerfilePath               string            `json:"dockerfile_path"`
	DockerContext                string            `json:"docker_context"`
	Namespace                    string            `json:"namespace"`
	ImageTags                    []string          `json:"image_tags"`
	InjectedAWSRoleARN           string            `json:"injected_aws_role_arn"`
	InjectedAWSAccountShortAlias string            `json:"injected_aws_account_short_alias"`
	Registries                   []string          `json:"registries"`
	BuildArgs                    map[string]string `json:"build_args"`
	GitFetchDepth                *int              `json:"git_fetch_depth"`
	// Stack chooses the builder (one of the stacks given to the tool); empty: the first.
	Stack string `json:"stack"`
}

// Options are the platform's own settings (command-line flags), not part of a request.
type Options struct {
	Stacks               []string // the stacks with a builder; the first is the default
	GitHost              string   // base URL for repositories given as owner/name
	ClusterBuilderPrefix string   // kpack ClusterBuilder name = prefix + stack
	BuilderImagePrefix   string   // Tekton builder image = prefix + ":" + stack
	ServiceAccount       string
	DockerConfigSecret   string
	SourceVolumeSize     string
	Pipeline             string
	DefaultGitFetchDepth int
	AnnotationPrefix     string
}

func defaultOptions() Options {
	return Options{
		Stacks:               []string{"bookworm", "trixie"}, // BLACKLODGE_STACKS (checked by a test)
		GitHost:              "https://github.com",
		ClusterBuilderPrefix: "blacklodge-",
		BuilderImagePrefix:   "registry.example.com/blacklodge/builder",
		ServiceAccount:       "blacklodge-build",
		DockerConfigSecret:   "registry-credentials",
		SourceVolumeSize:     "1Gi",
		Pipeline:             "blacklodge-build",
		DefaultGitFetchDepth: 1,
		AnnotationPrefix:     "blacklodge.io/",
	}
}

// Manifests are what one request becomes.
type Manifests struct {
	Images      []*kpack.Image
	PipelineRun *tekton.PipelineRun
	Notes       []string // fields that have no effect on a buildpacks build, said once
}

var (
	hexSHA       = regexp.MustCompile(`^[0-9a-f]{40}$`)
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	imageTag     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	repoPath     = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	registryHost = regexp.MustCompile(`^[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._/-]+)?$`)
	shorthand    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
)

// RequestError lists every problem of a request, each naming its field.
type RequestError struct{ Problems []string }

func (e *RequestError) Error() string {
	return "the build request is not valid:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// ParseRequest decodes a request strictly: unknown fields and wrong types are errors naming
// the field.
func ParseRequest(data []byte) (*BuildRequest, error) {
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	var request BuildRequest
	if err := decoder.Decode(&request); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr):
			return nil, &RequestError{[]string{fmt.Sprintf("%s: expected %s, got a JSON %s", typeErr.Field, expectedType(typeErr.Field), typeErr.Value)}}
		case errors.As(err, &syntaxErr):
			return nil, &RequestError{[]string{fmt.Sprintf("not valid JSON at byte %d: %s", syntaxErr.Offset, syntaxErr)}}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.TrimPrefix(err.Error(), "json: unknown field ")
			return nil, &RequestError{[]string{fmt.Sprintf("%s: not a field of the build request (fields: %s)", strings.Trim(field, `"`), strings.Join(requestFields(), ", "))}}
		default:
			return nil, &RequestError{[]string{fmt.Sprintf("not a JSON object: %s", err)}}
		}
	}
	if decoder.More() {
		return nil, &RequestError{[]string{"more than one JSON value: send one request object"}}
	}
	return &request, nil
}

func expectedType(field string) string {
	switch {
	case field == "image_tags" || field == "registries" || strings.HasPrefix(field, "image_tags.") || strings.HasPrefix(field, "registries."):
		return "a list of strings"
	case strings.HasPrefix(field, "build_args"):
		return "an object of string values"
	case field == "git_fetch_depth":
		return "an integer"
	}
	return "a string"
}

func requestFields() []string {
	return []string{"repository", "git_branch", "git_commit_sha", "image_name", "dockerfile_path",
		"docker_context", "namespace", "image_tags", "injected_aws_role_arn", "injected_aws_account_short_alias",
		"registries", "build_args", "git_fetch_depth", "stack"}
}

// gitURL is the clone URL of the request's repository.
func gitURL(repository, host string) string {
	if strings.Contains(repository, "://") || strings.HasPrefix(repository, "git@") {
		return repository
	}
	return strings.TrimSuffix(host, "/") + "/" + repository
}

// validate returns every problem of the request, each naming its field.
func (r *BuildRequest) validate(options Options) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch {
	case r.Repository == "":
		add("repository: required (owner/name, or a git URL)")
	case !shorthand.MatchString(r.Repository) && !strings.Contains(r.Repository, "://") && !strings.HasPrefix(r.Repository, "git@"):
		add("repository: %q is neither owner/name nor a git URL (https://…, ssh://…, git@host:path)", r.Repository)
	}
	switch {
	case r.GitBranch == "":
		add("git_branch: required (the branch the commit is on, e.g. main)")
	case strings.ContainsAny(r.GitBranch, " ~^:?*[\\") || strings.Contains(r.GitBranch, "..") || strings.HasPrefix(r.GitBranch, "-"):
		add("git_branch: %q is not a valid git branch name", r.GitBranch)
	}
	if !hexSHA.MatchString(r.GitCommitSHA) {
		add("git_commit_sha: %q is not a full commit id (40 lower-case hex digits, as `git rev-parse HEAD` prints)", r.GitCommitSHA)
	}
	switch {
	case r.ImageName == "":
		add("image_name: required (the repository path of the image, e.g. team/model)")
	case strings.ContainsAny(r.ImageName, ":@"):
		add("image_name: %q has a tag or digest; give the name only and the tags in image_tags", r.ImageName)
	case !repoPath.MatchString(r.ImageName):
		add("image_name: %q is not a valid image repository path (lower-case letters, digits, '.', '_', '-', '/')", r.ImageName)
	}
	if r.DockerContext != "" && (path.IsAbs(r.DockerContext) || strings.HasPrefix(path.Clean(r.DockerContext), "..")) {
		add("docker_context: %q must be a directory inside the repository (relative, without ..)", r.DockerContext)
	}
	if messages := validation.IsDNS1123Label(r.Namespace); r.Namespace == "" {
		add("namespace: required (the Kubernetes namespace of the build)")
	} else if len(messages) > 0 {
		add("namespace: %q is not a Kubernetes namespace name: %s", r.Namespace, strings.Join(messages, "; "))
	}
	for i, tag := range r.ImageTags {
		if !imageTag.MatchString(tag) {
			add("image_tags[%d]: %q is not a valid image tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')", i, tag)
		}
	}
	if len(r.Registries) == 0 {
		add("registries: at least one registry is required (where the image is pushed, e.g. registry.example.com)")
	}
	for i, registry := range r.Registries {
		switch {
		case strings.Contains(registry, "://"):
			add("registries[%d]: %q has a scheme; give host[:port][/path] only", i, registry)
		case !registryHost.MatchString(registry):
			add("registries[%d]: %q is not a registry host[:port][/path]", i, registry)
		}
	}
	for _, key := range sortedKeys(r.BuildArgs) {
		switch {
		case !envName.MatchString(key):
			add("build_args[%q]: not a valid environment variable name (letters, digits, '_'; not starting with a digit)", key)
		case strings.HasPrefix(key, "CNB_"):
			add("build_args[%q]: CNB_* variables belong to the lifecycle and cannot be build arguments", key)
		}
	}
	if r.GitFetchDepth != nil && *r.GitFetchDepth < 0 {
		add("git_fetch_depth: %d is negative (1: the commit only; 0: the whole history)", *r.GitFetchDepth)
	}
	if r.InjectedAWSRoleARN != "" && !strings.HasPrefix(r.InjectedAWSRoleARN, "arn:") {
		add("injected_aws_role_arn: %q is not an ARN (arn:aws:iam::<account>:role/<name>)", r.InjectedAWSRoleARN)
	}
	if messages := validation.IsValidLabelValue(r.InjectedAWSAccountShortAlias); len(messages) > 0 {
		add("injected_aws_account_short_alias: %q cannot be a Kubernetes label value: %s", r.InjectedAWSAccountShortAlias, strings.Join(messages, "; "))
	}
	if r.Stack != "" && !contains(options.Stacks, r.Stack) {
		add("stack: %q is not a stack of this platform (stacks: %s)", r.Stack, strings.Join(options.Stacks, ", "))
	}
	return problems
}

func contains(list []string, item string) bool {
	for _, entry := range list {
		if entry == item {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

// resourceName is a Kubernetes name from the image name's last component.
func resourceName(imageName string) string {
	base := path.Base(imageName)
	name := strings.Trim(regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(base, "-"), "-")
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	return name
}

// Translate turns a request into a kpack Image per registry and one Tekton PipelineRun, and
// validates them with kpack's and Tekton's own validation.
func Translate(r *BuildRequest, options Options) (*Manifests, error) {
	if problems := r.validate(options); len(problems) > 0 {
		return nil, &RequestError{problems}
	}
	stack := r.Stack
	if stack == "" {
		stack = options.Stacks[0]
	}
	tags := r.ImageTags
	if len(tags) == 0 {
		tags = []string{r.GitCommitSHA}
	}
	depth := options.DefaultGitFetchDepth
	if r.GitFetchDepth != nil {
		depth = *r.GitFetchDepth
	}
	url := gitURL(r.Repository, options.GitHost)
	env := buildEnv(r, url)
	labels := map[string]string{}
	annotations := map[string]string{
		options.AnnotationPrefix + "git-branch": r.GitBranch,
		options.AnnotationPrefix + "git-commit": r.GitCommitSHA,
	}
	if r.InjectedAWSAccountShortAlias != "" {
		labels[options.AnnotationPrefix+"aws-account"] = r.InjectedAWSAccountShortAlias
	}
	if r.InjectedAWSRoleARN != "" {
		annotations[options.AnnotationPrefix+"aws-role-arn"] = r.InjectedAWSRoleARN
	}
	name := resourceName(r.ImageName)
	manifests := &Manifests{}
	if r.DockerfilePath != "" {
		manifests.Notes = append(manifests.Notes, fmt.Sprintf("dockerfile_path %q is not used: the buildpacks build the source without a Dockerfile", r.DockerfilePath))
	}
	var allTags []string
	for i, registry := range r.Registries {
		repository := strings.TrimSuffix(registry, "/") + "/" + r.ImageName
		var imageTags []string
		for _, tag := range tags {
			imageTags = append(imageTags, repository+":"+tag)
		}
		allTags = append(allTags, imageTags...)
		imageName := name
		if len(r.Registries) > 1 {
			imageName = fmt.Sprintf("%s-%d", name, i+1)
		}
		image := &kpack.Image{
			TypeMeta:   metav1.TypeMeta{APIVersion: "kpack.io/v1alpha2", Kind: "Image"},
			ObjectMeta: metav1.ObjectMeta{Name: imageName, Namespace: r.Namespace, Labels: labels, Annotations: annotations},
			Spec: kpack.ImageSpec{
				Tag:                imageTags[0],
				AdditionalTags:     imageTags[1:],
				Builder:            corev1.ObjectReference{Kind: "ClusterBuilder", Name: options.ClusterBuilderPrefix + stack},
				ServiceAccountName: options.ServiceAccount,
				Source: kpackcore.SourceConfig{
					Git:     &kpackcore.Git{URL: url, Revision: r.GitCommitSHA},
					SubPath: r.DockerContext,
				},
				Build: &kpack.ImageBuild{Env: env},
			},
		}
		if err := validated(image.DeepCopy()); err != nil {
			return nil, fmt.Errorf("kpack refuses the Image made from the request: %w", err)
		}
		manifests.Images = append(manifests.Images, image)
	}
	size, err := resource.ParseQuantity(options.SourceVolumeSize)
	if err != nil {
		return nil, fmt.Errorf("--source-volume-size %q: %w", options.SourceVolumeSize, err)
	}
	var envPairs []string
	for _, variable := range env {
		envPairs = append(envPairs, variable.Name+"="+variable.Value)
	}
	run := &tekton.PipelineRun{
		TypeMeta: metav1.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "PipelineRun"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-", Namespace: r.Namespace,
			Labels: labels, Annotations: annotations},
		Spec: tekton.PipelineRunSpec{
			PipelineRef: &tekton.PipelineRef{Name: options.Pipeline},
			Params: tekton.Params{
				stringParam("git-url", url),
				stringParam("git-revision", r.GitCommitSHA),
				stringParam("git-branch", r.GitBranch),
				stringParam("git-depth", strconv.Itoa(depth)),
				stringParam("source-subpath", r.DockerContext),
				stringParam("builder-image", options.BuilderImagePrefix+":"+stack),
				stringParam("app-image", allTags[0]),
				stringParam("cache-image", strings.TrimSuffix(r.Registries[0], "/")+"/"+r.ImageName+"-cache:"+stack),
				arrayParam("additional-tags", allTags[1:]),
				arrayParam("env-vars", envPairs),
			},
			TaskRunTemplate: tekton.PipelineTaskRunTemplate{ServiceAccountName: options.ServiceAccount},
			Workspaces: []tekton.WorkspaceBinding{
				{Name: "source", VolumeClaimTemplate: &corev1.PersistentVolumeClaim{
					Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
					},
				}},
				{Name: "dockerconfig", Secret: &corev1.SecretVolumeSource{SecretName: options.DockerConfigSecret}},
			},
		},
	}
	if err := validated(run.DeepCopy()); err != nil {
		return nil, fmt.Errorf("Tekton refuses the PipelineRun made from the request: %w", err)
	}
	manifests.PipelineRun = run
	return manifests, nil
}

// validated applies the API server's defaults to a copy of an object, then its validation, as
// the cluster will when the manifest is applied.
func validated(object apiObject) error {
	ctx := context.Background()
	named(object)
	object.SetDefaults(ctx)
	if err := object.Validate(ctx); err != nil {
		return err
	}
	return nil
}

// buildEnv is the build-time environment: the request's build arguments, and the source
// repository and revision for the image's OCI labels unless the request sets them.
func buildEnv(r *BuildRequest, url string) []corev1.EnvVar {
	values := map[string]string{"BP_OCI_SOURCE": url, "BP_OCI_REVISION": r.GitCommitSHA}
	for key, value := range r.BuildArgs {
		values[key] = value
	}
	var env []corev1.EnvVar
	for _, key := range sortedKeys(values) {
		env = append(env, corev1.EnvVar{Name: key, Value: values[key]})
	}
	return env
}

func stringParam(name, value string) tekton.Param {
	return tekton.Param{Name: name, Value: *tekton.NewStructuredValues(value)}
}

func arrayParam(name string, values []string) tekton.Param {
	if values == nil {
		values = []string{}
	}
	return tekton.Param{Name: name, Value: tekton.ParamValue{Type: tekton.ParamTypeArray, ArrayVal: values}}
}

// YAML renders the manifests as one multi-document YAML stream.
func (m *Manifests) YAML() ([]byte, error) {
	var out bytes.Buffer
	objects := []any{}
	for _, image := range m.Images {
		objects = append(objects, image)
	}
	objects = append(objects, m.PipelineRun)
	for _, object := range objects {
		data, err := yaml.Marshal(object)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(withoutStatus(data))
	}
	return out.Bytes(), nil
}

// withoutStatus drops the empty status and creationTimestamp the API types always marshal.
func withoutStatus(data []byte) []byte {
	var object map[string]any
	if err := yaml.Unmarshal(data, &object); err != nil {
		return data
	}
	delete(object, "status")
	if metadata, ok := object["metadata"].(map[string]any); ok {
		delete(metadata, "creationTimestamp")
	}
	if spec, ok := object["spec"].(map[string]any); ok {
		for _, workspace := range asList(spec["workspaces"]) {
			if template, ok := workspace["volumeClaimTemplate"].(map[string]any); ok {
				delete(template, "status")
				delete(template, "metadata")
			}
		}
	}
	clean, err := yaml.Marshal(object)
	if err != nil {
		return data
	}
	return clean
}

func asList(value any) []map[string]any {
	items, _ := value.([]any)
	var maps []map[string]any
	for _, item := range items {
		if m, ok := item.(map[string]any); ok {
			maps = append(maps, m)
		}
	}
	return maps
}

func requestCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	options := defaultOptions()
	flags := flag.NewFlagSet("request", flag.ContinueOnError)
	flags.SetOutput(stderr)
	stacks := flags.String("stacks", strings.Join(options.Stacks, " "), "the platform's stacks, space-separated (the suites of BLACKLODGE_STACKS in bench/versions.env); the first is the default")
	flags.StringVar(&options.GitHost, "git-host", options.GitHost, "base URL of repositories given as owner/name")
	flags.StringVar(&options.ClusterBuilderPrefix, "cluster-builder-prefix", options.ClusterBuilderPrefix, "kpack ClusterBuilder name before the stack")
	flags.StringVar(&options.BuilderImagePrefix, "builder-image", options.BuilderImagePrefix, "builder image repository for Tekton (the stack is the tag)")
	flags.StringVar(&options.ServiceAccount, "service-account", options.ServiceAccount, "service account of the builds (registry and git credentials)")
	flags.StringVar(&options.DockerConfigSecret, "docker-config-secret", options.DockerConfigSecret, "Secret with .docker/config.json for the Tekton task")
	flags.StringVar(&options.SourceVolumeSize, "source-volume-size", options.SourceVolumeSize, "size of the Tekton source workspace")
	flags.StringVar(&options.Pipeline, "pipeline", options.Pipeline, "name of the Tekton Pipeline (deploy/tekton/pipeline.yaml)")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	options.Stacks = strings.Fields(*stacks)
	if len(options.Stacks) == 0 {
		return usageError{"--stacks is empty"}
	}
	if flags.NArg() != 1 {
		return usageError{"request needs one request file (or - for standard input)"}
	}
	var data []byte
	var err error
	if flags.Arg(0) == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(flags.Arg(0))
	}
	if err != nil {
		return err
	}
	request, err := ParseRequest(data)
	if err != nil {
		return err
	}
	manifests, err := Translate(request, options)
	if err != nil {
		return err
	}
	for _, note := range manifests.Notes {
		fmt.Fprintf(stderr, "note: %s\n", note)
	}
	out, err := manifests.YAML()
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
