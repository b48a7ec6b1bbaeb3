package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Credentials come from Docker's configuration (`docker login`), as for docker and pack.
var keychain = authn.DefaultKeychain

func digestCommand(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{"digest needs one image reference"}
	}
	reference, err := name.ParseReference(args[0])
	if err != nil {
		return fmt.Errorf("%q is not an image reference: %w", args[0], err)
	}
	descriptor, err := remote.Head(reference, remote.WithAuthFromKeychain(keychain))
	if err != nil {
		return registryError(reference.Context().RegistryStr(), "read "+args[0], err)
	}
	fmt.Fprintln(stdout, descriptor.Digest)
	return nil
}

func checkPushCommand(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{"check-push needs one repository"}
	}
	repository, err := name.NewRepository(args[0])
	if err != nil {
		return fmt.Errorf("%q is not a repository name (registry host[:port]/path, lower case): %w", args[0], err)
	}
	err = remote.CheckPushPermission(repository.Tag("push-check"), keychain, http.DefaultTransport)
	if err != nil {
		return registryError(repository.RegistryStr(), "push to "+args[0], err)
	}
	fmt.Fprintf(stdout, "%s accepts pushes\n", args[0])
	return nil
}

// registryError explains a failed registry call: what failed, why, how to fix it.
func registryError(registry, action string, err error) error {
	var why, fix string
	var status *transport.Error
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.As(err, &status) && (status.StatusCode == http.StatusUnauthorized || status.StatusCode == http.StatusForbidden):
		why = fmt.Sprintf("the registry %s refused the credentials (HTTP %d): %s", registry, status.StatusCode, err)
		fix = fmt.Sprintf("log in with an account that may do this: docker login %s (docker, pack and this tool read ~/.docker/config.json)", registry)
	case errors.As(err, &netErr) || errors.As(err, &urlErr):
		why = fmt.Sprintf("the registry %s cannot be reached: %s", registry, err)
		fix = "check the registry host and port (BLACKLODGE_PUBLISH_REGISTRY for bench/publish), that it is running and reachable from here, and that its TLS certificate is trusted (docs/platform.md, \"Registry CA\")"
	default:
		why = fmt.Sprintf("the registry %s answered: %s", registry, err)
		fix = "check the image name and the registry's logs"
	}
	return fmt.Errorf("cannot %s\n  why: %s\n  fix: %s", action, why, fix)
}
