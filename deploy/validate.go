package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	kpack "github.com/pivotal/kpack/pkg/apis/build/v1alpha2"
	tekton "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"
)

// resource is what the Tekton and kpack API types we accept have in common.
type apiObject interface {
	SetDefaults(ctx context.Context)
	Validate(ctx context.Context) *apis.FieldError
}

// newResource returns an empty object of the given apiVersion and kind, or nil when the kind is
// not one we validate.
func newResource(apiVersion, kind string) apiObject {
	switch apiVersion + "/" + kind {
	case "tekton.dev/v1/Task":
		return &tekton.Task{}
	case "tekton.dev/v1/Pipeline":
		return &tekton.Pipeline{}
	case "tekton.dev/v1/PipelineRun":
		return &tekton.PipelineRun{}
	case "tekton.dev/v1/TaskRun":
		return &tekton.TaskRun{}
	case "kpack.io/v1alpha2/Image":
		return &kpack.Image{}
	case "kpack.io/v1alpha2/Build":
		return &kpack.Build{}
	case "kpack.io/v1alpha2/Builder":
		return &kpack.Builder{}
	case "kpack.io/v1alpha2/ClusterBuilder":
		return &kpack.ClusterBuilder{}
	case "kpack.io/v1alpha2/ClusterStack":
		return &kpack.ClusterStack{}
	case "kpack.io/v1alpha2/ClusterStore":
		return &kpack.ClusterStore{}
	case "kpack.io/v1alpha2/ClusterBuildpack":
		return &kpack.ClusterBuildpack{}
	case "kpack.io/v1alpha2/Buildpack":
		return &kpack.Buildpack{}
	case "kpack.io/v1alpha2/ClusterLifecycle":
		return &kpack.ClusterLifecycle{}
	}
	return nil
}

// kinds that are passed through unchecked (plain Kubernetes objects of the examples).
var plainKinds = map[string]bool{"v1/ServiceAccount": true, "v1/Secret": true, "v1/PersistentVolumeClaim": true}

func validateFiles(paths []string, stdout io.Writer) error {
	if len(paths) == 0 {
		return usageError{"validate needs at least one file"}
	}
	var problems []string
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		count, errs := validateDocuments(data)
		for _, e := range errs {
			problems = append(problems, fmt.Sprintf("%s: %s", path, e))
		}
		if len(errs) == 0 {
			fmt.Fprintf(stdout, "%s: %d valid\n", path, count)
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// validateDocuments validates every document of a YAML stream; returns how many there were and
// one error per invalid document.
func validateDocuments(data []byte) (int, []error) {
	reader := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	count := 0
	var errs []error
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return count, append(errs, err)
		}
		if len(bytes.TrimSpace(document)) == 0 || isComment(document) {
			continue
		}
		count++
		if err := validateDocument(document); err != nil {
			errs = append(errs, fmt.Errorf("document %d %w", count, err))
		}
	}
	if count == 0 {
		errs = append(errs, errors.New("no YAML document"))
	}
	return count, errs
}

func isComment(document []byte) bool {
	for _, line := range strings.Split(string(document), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && line != "---" {
			return false
		}
	}
	return true
}

func validateDocument(document []byte) error {
	var header struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(document, &header); err != nil {
		return fmt.Errorf("is not valid YAML: %w", err)
	}
	what := fmt.Sprintf("(%s %s %q)", header.APIVersion, header.Kind, header.Metadata.Name)
	if plainKinds[header.APIVersion+"/"+header.Kind] {
		return nil
	}
	object := newResource(header.APIVersion, header.Kind)
	if object == nil {
		return fmt.Errorf("%s: not a Tekton (tekton.dev/v1) or kpack (kpack.io/v1alpha2) kind this tool validates", what)
	}
	if err := yaml.UnmarshalStrict(document, object); err != nil {
		return fmt.Errorf("%s: does not match the %s schema: %w", what, header.Kind, err)
	}
	if err := validated(object); err != nil {
		return fmt.Errorf("%s: %s", what, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}

// named gives an object with only metadata.generateName the name the API server would
// (the prefix and five random characters), so it validates as created.
func named(object apiObject) {
	if meta, ok := object.(metav1.Object); ok && meta.GetName() == "" && meta.GetGenerateName() != "" {
		meta.SetName(meta.GetGenerateName() + "x7k2q")
	}
}
