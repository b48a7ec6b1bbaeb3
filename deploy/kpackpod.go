package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	kpack "github.com/pivotal/kpack/pkg/apis/build/v1alpha2"
	kpackcore "github.com/pivotal/kpack/pkg/apis/core/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The labels and environment kpack reads from a builder and its stack images (kpack's
// pkg/buildpod and pkg/cnb): a builder without them is refused by kpack.
const (
	stackIDLabel         = "io.buildpacks.stack.id"
	builderMetadataLabel = "io.buildpacks.builder.metadata"
	cnbUserID            = "CNB_USER_ID"
	cnbGroupID           = "CNB_GROUP_ID"
)

// builderMetadata is the part of io.buildpacks.builder.metadata kpack reads.
type builderMetadata struct {
	Stack struct {
		RunImage struct {
			Image string `json:"image"`
		} `json:"runImage"`
	} `json:"stack"`
	Lifecycle struct {
		APIs struct {
			Platform struct {
				Deprecated []string `json:"deprecated"`
				Supported  []string `json:"supported"`
			} `json:"platform"`
		} `json:"apis"`
	} `json:"lifecycle"`
}

func fetchConfig(reference string) (*ggcr.ConfigFile, error) {
	ref, err := name.ParseReference(reference)
	if err != nil {
		return nil, fmt.Errorf("%q is not an image reference: %w", reference, err)
	}
	image, err := remote.Image(ref, remote.WithAuthFromKeychain(keychain))
	if err != nil {
		return nil, registryError(ref.Context().RegistryStr(), "read "+reference, err)
	}
	return image.ConfigFile()
}

func envOf(config *ggcr.ConfigFile, key string) (string, bool) {
	for _, entry := range config.Config.Env {
		if value, ok := strings.CutPrefix(entry, key+"="); ok {
			return value, true
		}
	}
	return "", false
}

func cnbID(config *ggcr.ConfigFile, image, key string) (int64, error) {
	value, ok := envOf(config, key)
	if !ok {
		return 0, fmt.Errorf("%s has no %s in its environment; kpack reads the build user from it", image, key)
	}
	id, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %s=%q is not a number", image, key, value)
	}
	return id, nil
}

// builderConfig reads what kpack's build pod generator reads from a builder image.
func builderConfig(builder string) (kpack.BuildPodBuilderConfig, error) {
	config, err := fetchConfig(builder)
	if err != nil {
		return kpack.BuildPodBuilderConfig{}, err
	}
	stackID := config.Config.Labels[stackIDLabel]
	if stackID == "" {
		return kpack.BuildPodBuilderConfig{}, fmt.Errorf("%s has no %s label; kpack refuses builders without it", builder, stackIDLabel)
	}
	var metadata builderMetadata
	if err := json.Unmarshal([]byte(config.Config.Labels[builderMetadataLabel]), &metadata); err != nil {
		return kpack.BuildPodBuilderConfig{}, fmt.Errorf("%s: the %s label is not valid builder metadata: %w", builder, builderMetadataLabel, err)
	}
	if metadata.Stack.RunImage.Image == "" {
		return kpack.BuildPodBuilderConfig{}, fmt.Errorf("%s: the %s label names no run image (stack.runImage.image)", builder, builderMetadataLabel)
	}
	uid, err := cnbID(config, builder, cnbUserID)
	if err != nil {
		return kpack.BuildPodBuilderConfig{}, err
	}
	gid, err := cnbID(config, builder, cnbGroupID)
	if err != nil {
		return kpack.BuildPodBuilderConfig{}, err
	}
	if config.OS != "linux" {
		return kpack.BuildPodBuilderConfig{}, fmt.Errorf("%s is for %q; kpack builds on linux only", builder, config.OS)
	}
	platform := metadata.Lifecycle.APIs.Platform
	return kpack.BuildPodBuilderConfig{
		StackID:      stackID,
		RunImage:     metadata.Stack.RunImage.Image,
		PlatformAPIs: append(platform.Deprecated, platform.Supported...),
		Uid:          uid,
		Gid:          gid,
	}, nil
}

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// podStep is one container of the build pod, as the test harness runs it.
type podStep struct {
	Name    string            `json:"name"`
	Image   string            `json:"image"`
	Command []string          `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
	Mounts  map[string]string `json:"mounts"` // mount path -> volume name
}

type podSteps struct {
	UID   int64     `json:"uid"`
	GID   int64     `json:"gid"`
	Steps []podStep `json:"steps"`
}

func kpackBuildPodCommand(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("kpack-build-pod", flag.ContinueOnError)
	builder := flags.String("builder", "", "builder image in a registry (required)")
	tag := flags.String("tag", "", "the app image tag kpack exports to (required)")
	cacheImage := flags.String("cache-image", "", "registry cache image tag (spec.cache.registry.tag)")
	var additionalTags, env repeated
	flags.Var(&additionalTags, "additional-tag", "another tag of the app image (repeatable)")
	flags.Var(&env, "env", "NAME=VALUE build-time variable (spec.build.env; repeatable)")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *builder == "" || *tag == "" {
		return usageError{"kpack-build-pod needs --builder and --tag"}
	}
	config, err := builderConfig(*builder)
	if err != nil {
		return err
	}
	build := &kpack.Build{
		ObjectMeta: metav1.ObjectMeta{Name: "blacklodge-app-build-1", Namespace: "default"},
		Spec: kpack.BuildSpec{
			Tags:               append([]string{*tag}, additionalTags...),
			Builder:            kpackcore.BuildBuilderSpec{Image: *builder},
			ServiceAccountName: "default",
			Source:             kpackcore.SourceConfig{Git: &kpackcore.Git{URL: "https://git.invalid/app.git", Revision: strings.Repeat("0", 40)}},
		},
	}
	if *cacheImage != "" {
		build.Spec.Cache = &kpack.BuildCacheConfig{Registry: &kpack.RegistryCache{Tag: *cacheImage}}
	}
	for _, pair := range env {
		key, value, ok := strings.Cut(pair, "=")
		if !ok {
			return usageError{fmt.Sprintf("--env %q is not NAME=VALUE", pair)}
		}
		build.Spec.Env = append(build.Spec.Env, corev1.EnvVar{Name: key, Value: value})
	}
	if err := build.Validate(context.Background()); err != nil {
		return fmt.Errorf("kpack refuses the build: %w", err)
	}
	pod, err := build.BuildPod(kpack.BuildPodImages{BuildInitImage: "kpack/build-init", CompletionImage: "kpack/completion"},
		kpack.BuildContext{BuildPodBuilderConfig: config})
	if err != nil {
		return fmt.Errorf("kpack cannot make the build pod: %w", err)
	}
	if pod.Spec.SecurityContext == nil || pod.Spec.SecurityContext.RunAsUser == nil || pod.Spec.SecurityContext.RunAsGroup == nil {
		return errors.New("the build pod has no user")
	}
	out := podSteps{UID: *pod.Spec.SecurityContext.RunAsUser, GID: *pod.Spec.SecurityContext.RunAsGroup}
	for _, container := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		step := podStep{Name: container.Name, Image: container.Image, Command: container.Command, Args: container.Args,
			Env: map[string]string{}, Mounts: map[string]string{}}
		for _, variable := range container.Env {
			if variable.Name != "" {
				step.Env[variable.Name] = variable.Value
			}
		}
		for _, mount := range container.VolumeMounts {
			step.Mounts[mount.MountPath] = mount.Name
		}
		out.Steps = append(out.Steps, step)
	}
	encoder := json.NewEncoder(stdout)
	encoder.SetIndent("", "  ")
	return encoder.Encode(out)
}

// kpackStackCommand checks a build and run image as kpack's ClusterStack reconciler does.
func kpackStackCommand(args []string, stdout io.Writer) error {
	if len(args) != 3 {
		return usageError{"kpack-stack needs BUILD-IMAGE RUN-IMAGE STACK-ID"}
	}
	buildImage, runImage, stackID := args[0], args[1], args[2]
	build, err := fetchConfig(buildImage)
	if err != nil {
		return err
	}
	run, err := fetchConfig(runImage)
	if err != nil {
		return err
	}
	buildStack, runStack := build.Config.Labels[stackIDLabel], run.Config.Labels[stackIDLabel]
	if buildStack != stackID || runStack != stackID {
		return fmt.Errorf("invalid stack images: expected stack %s, build image stack %q, run image stack %q", stackID, buildStack, runStack)
	}
	uid, err := cnbID(build, buildImage, cnbUserID)
	if err != nil {
		return err
	}
	gid, err := cnbID(build, buildImage, cnbGroupID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stack %s: build image user %d:%d\n", stackID, uid, gid)
	return nil
}
