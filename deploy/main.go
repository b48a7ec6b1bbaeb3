// Command blacklodge-platform is the platform side of Blacklodge Buildpacks: it validates the
// Tekton and kpack manifests of deploy/ with those projects' own API types, turns a
// container-build request (JSON) into a kpack Image and a Tekton PipelineRun, prints the steps
// a kpack build pod runs, and looks up registries for bench/publish. See docs/platform.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

const usage = `usage: blacklodge-platform COMMAND [ARGS]

commands:
  validate FILE...            validate Tekton and kpack manifests (multi-document YAML)
  request [FLAGS] FILE.json   print the kpack Image(s) and Tekton PipelineRun of a build request
                              (FILE "-" reads standard input; --help for the flags)
  kpack-build-pod [FLAGS]     print, as JSON, the lifecycle steps of the pod kpack runs for a
                              build with our builder (--help for the flags)
  kpack-stack BUILD RUN ID    check a build and run image the way kpack's ClusterStack does
  digest IMAGE                print the digest of IMAGE in its registry
  check-push REPOSITORY       fail with the reason when REPOSITORY does not accept pushes
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// usageError is a mistake in the command line: reported with the usage.
type usageError struct{ message string }

func (e usageError) Error() string { return e.message }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch command, rest := args[0], args[1:]; command {
	case "validate":
		err = validateFiles(rest, stdout)
	case "request":
		err = requestCommand(rest, stdin, stdout, stderr)
	case "kpack-build-pod":
		err = kpackBuildPodCommand(rest, stdout)
	case "kpack-stack":
		err = kpackStackCommand(rest, stdout)
	case "digest":
		err = digestCommand(rest, stdout)
	case "check-push":
		err = checkPushCommand(rest, stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Sprintf("unknown command %q", command)}
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "error: %s\n", err)
	var mistake usageError
	if errors.As(err, &mistake) {
		fmt.Fprint(stderr, usage)
		return 2
	}
	return 1
}
