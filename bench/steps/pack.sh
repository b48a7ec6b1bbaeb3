# Build pack and the CNB lifecycle from their Go modules at pinned versions (cached),
# and make the lifecycle tarball that builder.toml points at (with the lifecycle's SBOM
# files, as release tarballs have them: see lifecycle_sbom.py).
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

go_module_dir() {
  local module="$1" version="$2" json dir
  json="$(go mod download -json "$module@v$version" 2>&1)" || die "downloading Go module $module@v$version failed" "$json" "check that the Go module proxy is reachable and the version exists"
  dir="$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$dir" ] || die "Go module $module@v$version has no source dir" "$json" "clear the Go module cache for it (go clean -modcache) and re-run"
  printf '%s' "$dir"
}

ensure_pack() {
  local out="$TOOLS_DIR/pack-$PACK_VERSION/pack"
  if [ ! -x "$out" ]; then
    step "Building pack $PACK_VERSION from its Go module"
    command -v go >/dev/null || die "go is not installed" "pack is built from source" "install Go (see go.mod of pack for the minimum version)"
    local src; src="$(go_module_dir github.com/buildpacks/pack "$PACK_VERSION")"
    mkdir -p "$(dirname "$out")"
    # pack's go.mod has a replace directive, so `go install pkg@v` is refused: build in the module dir.
    (cd "$src" && run_logged "building pack" "$BLACKLODGE_CACHE/pack-build.log" \
      env CGO_ENABLED=0 go build -trimpath -o "$out.tmp" \
        -ldflags "-s -w -X github.com/buildpacks/pack/pkg/client.Version=$PACK_VERSION" .)
    publish "$out.tmp" "$out"
  fi
  ln -sf "$out" "$TOOLS_DIR/bin/pack"
  info "pack $(pack version)"
}

ensure_lifecycle() {
  local tgz="$LIFECYCLE_TGZ" dir; dir="$(dirname "$LIFECYCLE_TGZ")"
  if [ ! -f "$tgz" ]; then
    step "Building the CNB lifecycle $LIFECYCLE_VERSION from its Go module"
    local src; src="$(go_module_dir github.com/buildpacks/lifecycle "$LIFECYCLE_VERSION")"
    local stage; stage="$(mktemp -d)"
    mkdir -p "$stage/lifecycle"
    for bin in lifecycle launcher; do
      (cd "$src" && run_logged "building lifecycle/$bin" "$BLACKLODGE_CACHE/lifecycle-build-$bin.log" \
        env CGO_ENABLED=0 go build -trimpath -o "$stage/lifecycle/$bin" \
          -ldflags "-s -w -X github.com/buildpacks/lifecycle/cmd.Version=$LIFECYCLE_VERSION" "./cmd/$bin")
    done
    for link in detector analyzer restorer builder exporter rebaser creator extender; do
      ln -s lifecycle "$stage/lifecycle/$link"
    done
    # The exporter copies /cnb/lifecycle/{lifecycle,launcher}.sbom.{cdx,spdx,syft}.json into
    # every image and warns once per missing file.
    for bin in lifecycle launcher; do
      python3 "$BENCH_DIR/steps/lifecycle_sbom.py" "$stage/lifecycle/$bin" "$bin" "$LIFECYCLE_VERSION" "$stage/lifecycle" \
        || die "writing the SBOM of lifecycle/$bin failed" "see the error above" "check that \`go version -m\` reads the binary"
    done
    # The supported API lists come from the lifecycle source itself, not from a copy here.
    python3 - "$src/api/apis.go" "$stage/lifecycle.toml" "$LIFECYCLE_VERSION" <<'PY'
import re, sys
src, out, version = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(src).read()
def apis(name):
    m = re.search(r'\b' + name + r'\s*=\s*newApisMustParse\(\s*\[\]string\{([^}]*)\}', text)
    if not m:
        sys.exit(f"could not find {name} in {src}")
    return [s.strip().strip('"') for s in m.group(1).split(",") if s.strip()]
lines = ['[apis]', '[apis.buildpack]', 'deprecated = []',
         'supported = [' + ", ".join(f'"{v}"' for v in apis("Buildpack")) + ']',
         '[apis.platform]', 'deprecated = []',
         'supported = [' + ", ".join(f'"{v}"' for v in apis("Platform")) + ']',
         '', '[lifecycle]', f'version = "{version}"', '']
open(out, "w").write("\n".join(lines))
PY
    mkdir -p "$dir"
    tar -C "$stage" -czf "$tgz.tmp" lifecycle.toml lifecycle
    rm -rf "$stage"
    publish "$tgz.tmp" "$tgz"
  fi
  info "lifecycle $LIFECYCLE_VERSION tarball: $tgz"
}

ensure_pack
ensure_lifecycle
