# Build blacklodge-platform (deploy/: the Go program that validates the Tekton and kpack
# manifests with their own API modules, turns build requests into manifests, prints kpack's
# build pod and looks up registries for bench/publish). Go's module and build caches are per
# machine (as for pack); the binary is rebuilt when deploy/ changes, which is quick once the
# dependencies are compiled.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ensure_platform_tool() {
  local src="$REPO_DIR/deploy" key out
  key="$(cd "$src" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)"
  out="$TOOLS_DIR/blacklodge-platform-$key/blacklodge-platform"
  if [ ! -x "$out" ]; then
    step "Building blacklodge-platform (deploy/, Go: Tekton and kpack API modules)"
    command -v go >/dev/null || die "go is not installed" "blacklodge-platform is built from deploy/" "install Go (deploy/go.mod names the minimum version)"
    mkdir -p "$(dirname "$out")"
    # Several runs may build at once (bench/publish in parallel tests): each its own temp file.
    (cd "$src" && run_logged "building blacklodge-platform" "$BLACKLODGE_CACHE/platform-build.log" \
      env CGO_ENABLED=0 go build -trimpath -mod=readonly -o "$out.tmp.$$" .)
    publish "$out.tmp.$$" "$out"
  fi
  ln -sf "$out" "$TOOLS_DIR/bin/blacklodge-platform"
}

ensure_platform_tool
