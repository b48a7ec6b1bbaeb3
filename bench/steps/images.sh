# Make every stack's base images locally (the stacks: BLACKLODGE_STACKS in bench/versions.env):
# nothing can be pulled, so the public base the Dockerfiles name (debian:<suite>-slim) is
# satisfied by a debootstrapped import when absent.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ensure_debian_base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then info "$BASE_IMAGE present"; return; fi
  local tarball="$BLACKLODGE_CACHE/rootfs/$DEBIAN_SUITE-minbase.tar"
  if [ ! -f "$tarball" ]; then
    step "Bootstrapping Debian $DEBIAN_SUITE (debootstrap --variant=minbase)"
    if ! command -v debootstrap >/dev/null; then
      apt_install debootstrap debootstrap
    fi
    local root; root="$(mktemp -d "$BLACKLODGE_CACHE/rootfs-XXXX")"
    run_logged "debootstrap" "$BLACKLODGE_CACHE/debootstrap-$DEBIAN_SUITE.log" \
      as_root debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" http://deb.debian.org/debian
    # Same apt sources as the official image (with updates and security), and a slim tree.
    as_root rm -f "$root/etc/apt/sources.list"
    as_root tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    as_root sh -c "rm -rf '$root'/var/lib/apt/lists/* '$root'/var/cache/apt/*.bin '$root'/var/cache/apt/archives/*.deb '$root'/usr/share/doc/* '$root'/usr/share/man/* '$root'/var/log/*.log"
    mkdir -p "$(dirname "$tarball")"
    as_root tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
    as_root rm -rf "$root"
    publish "$tarball.tmp" "$tarball"
  fi
  step "Importing $BASE_IMAGE from $tarball"
  # Imported images have no config: give it what the official image has.
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    "$tarball" "$BASE_IMAGE" >/dev/null
}

build_stack_image() {
  local name="$1" kind="$2" context
  context="$(mktemp -d)"
  cp "$REPO_DIR/builder/images/$kind/Dockerfile" "$context/"
  mkdir -p "$context/certs"
  # Host extra CAs (e.g. a TLS-intercepting proxy): carried into the images when present.
  find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} "$context/certs/" \; 2>/dev/null || true
  if [ "$kind" = build ]; then
    # The run image's package list, for blacklodge/apt (which leaves out what the run image has).
    docker run --rm --network none --entrypoint cat "$RUN_IMAGE" /var/lib/dpkg/status >"$context/run-image-dpkg-status"
  fi
  # Everything the image is made from: the context, the base image and the build arguments.
  # An image whose label names the same inputs is kept: rebuilding it would run apt again
  # (the run image's first stage is pruned below, so Docker's layer cache cannot help) and
  # give a new run image, hence new builders, on every set-up. Removing the image rebuilds it
  # (with the archive's package versions of that day).
  local inputs
  inputs="$( { (cd "$context" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    docker image inspect --format '{{.Id}}' "$BASE_IMAGE"
    echo "$STACK_ID $DEBIAN_VERSION_ID"; } | sha256sum | cut -d' ' -f1)"
  if [ "$(docker image inspect --format '{{ index .Config.Labels "io.blacklodge.inputs" }}' "$name" 2>/dev/null)" = "$inputs" ]; then
    info "$name is up to date with its Dockerfile and base"
    rm -rf "$context"
    return
  fi
  step "Building $name"
  # Legacy builder: works with any engine version and needs no buildx plugin.
  run_logged "building $name" "$BLACKLODGE_CACHE/image-$DEBIAN_SUITE-$kind.log" \
    env DOCKER_BUILDKIT=0 docker build --network host \
      --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "STACK_ID=$STACK_ID" \
      --build-arg "DISTRO_VERSION=$DEBIAN_VERSION_ID" --label "io.blacklodge.inputs=$inputs" -t "$name" "$context"
  rm -rf "$context"
  # The run image's first stage (the untrimmed tree it copies from) is left untagged.
  docker image prune -f --filter "label=io.blacklodge.stage=$STACK_ID.run-rootfs" >/dev/null
}

# make_stack SUITE: the base, build and run images of one stack. One run at a time per stack
# (bench/setup and the tests that publish builders run side by side): a second run pruning
# the untagged first stage of the run image would remove the image the first is building on.
make_stack() {
  ( flock 9 && make_stack_unlocked "$1" ) 9>"$BLACKLODGE_CACHE/stack-$1.lock"
}

make_stack_unlocked() {
  use_stack "$1"
  ensure_debian_base
  # The run image first: the build image carries its package list (for blacklodge/apt).
  build_stack_image "$RUN_IMAGE" run
  build_stack_image "$BUILD_IMAGE" build
}

# The stacks named as arguments (default: every stack), in parallel (mostly network and disk:
# debootstrap, apt), each with its own logs.
suites=("$@")
[ "${#suites[@]}" -gt 0 ] || mapfile -t suites < <(stack_suites)
pids=()
for suite in "${suites[@]}"; do
  make_stack "$suite" &
  pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ "$failed" = 0 ] || die "making a stack's images failed" "see the error above" "fix it and re-run bench/setup"
