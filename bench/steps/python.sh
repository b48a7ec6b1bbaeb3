# Produce relocatable CPython archives in the python-build-standalone `install_only` layout
# (the upstream archives are not reachable here): 3.11 repackaged from Debian's interpreter
# packages, 3.13 compiled from Debian's source package. Write manifests with real sha256 sums
# and serve everything from a loopback HTTP mirror laid out like the upstream releases.
# The archives are built on the default stack (Debian 12) and checked on every stack's run
# image; the manifest marks each archive with the distributions it runs on ("distros"), which
# the runtime buildpack matches against the stack it builds for (docs/stacks.md).
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

MIRROR_DIR="$BLACKLODGE_CACHE/mirror"
# Archives are made on the default stack, whichever BLACKLODGE_STACK says.
use_stack "$DEFAULT_SUITE"

# The check every archive passes on a stack's run image, as the app user, unpacked somewhere
# else than where it was built: the interpreter finds its prefix, the common extension
# modules load, and no shared object misses a library.
STACK_CHECK='
import glob, os, subprocess, sys
import ssl, sqlite3, ctypes, lzma, bz2, zlib, decimal, uuid, readline, pyexpat, hashlib, json, venv
assert sys.prefix == "/opt/elsewhere/python", sys.prefix
missing = []
for path in glob.glob(sys.prefix + "/lib/python3*/lib-dynload/*.so") + [sys.executable]:
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    missing += [os.path.basename(path) + ": " + line.strip() for line in out.splitlines() if "not found" in line]
assert not missing, missing
'

# Build tag of the archives we make; bump when the packaging below changes.
ARCHIVE_BUILD="debian${DEBIAN_VERSION_ID}.3"

# add_stdlib_bytecode DIR: compiles DIR/python's standard library to unchecked-hash pycs, the
# form the python buildpack writes itself when an archive lacks them (it checks every module
# and then skips its own compile: about a second of every cold build). Runs the interpreter
# on the run image, where it has its shared libraries; test suites are skipped as there.
add_stdlib_bytecode() {
  local dir="$1"
  run_logged "compiling the standard library's bytecode" "$BLACKLODGE_CACHE/cpython-bytecode.log" \
    docker run --rm --network none -u "$(id -u):$(id -g)" -e PYTHONDONTWRITEBYTECODE=1 \
      -v "$dir/python:/opt/python" "$RUN_IMAGE" \
      /opt/python/bin/python3 -m compileall -q -f -j 0 --invalidation-mode unchecked-hash \
        -x '/(test|tests|idlelib|turtledemo)/' /opt/python/lib
}

# archive_tree DIR FILE: the reproducible archive (sorted names, fixed owner and mtime) of DIR/python.
archive_tree() {
  mkdir -p "$(dirname "$2")"
  tar -C "$1" --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-01-01 00:00Z' \
    -czf "$2.tmp" python
  publish "$2.tmp" "$2"
}

make_debian_cpython() {
  local minor="$1"   # e.g. 3.11
  local marker="$MIRROR_DIR/.cpython-$minor-$ARCHIVE_BUILD.done"
  [ -f "$marker" ] && { info "CPython $minor archive cached"; return; }
  step "Packaging CPython $minor from Debian $DEBIAN_SUITE packages"
  local work; work="$(mktemp -d "$BLACKLODGE_CACHE/cpython-XXXX")"
  # Runs in the base image as root: apt-get download + dpkg -x need no host changes.
  run_logged "packaging CPython $minor" "$BLACKLODGE_CACHE/cpython-$minor.log" \
    docker run --rm --network host -u 0 -v "$work:/out" "$BASE_IMAGE" bash -euo pipefail -c "
      apt-get update -qq
      cd /tmp
      apt-get download -qq python$minor-minimal libpython$minor-minimal libpython$minor-stdlib libpython$minor-dev
      version=\$(dpkg-deb -f python$minor-minimal_*.deb Version | sed 's/-.*//')
      mkdir -p root
      for deb in *.deb; do dpkg -x \"\$deb\" root; done
      p=/out/python
      mkdir -p \$p/bin \$p/lib \$p/include
      cp -a root/usr/bin/python$minor \$p/bin/
      ln -s python$minor \$p/bin/python3
      ln -s python$minor \$p/bin/python
      cp -a root/usr/lib/python$minor \$p/lib/
      cp -a root/usr/include/python$minor \$p/include/
      # Debian's pyconfig.h is a multiarch wrapper; put the real one in place.
      cp root/usr/include/x86_64-linux-gnu/python$minor/pyconfig.h \$p/include/python$minor/pyconfig.h
      cp -a root/usr/lib/x86_64-linux-gnu/libpython$minor.so* \$p/lib/ 2>/dev/null || true
      rm -rf \$p/lib/python$minor/test \$p/lib/python$minor/idlelib \$p/lib/python$minor/tkinter
      # The static libraries (libpython$minor.a and its -pic twin, 25 MB of 56) only serve
      # programs that link CPython statically; extension modules never do, and embedding
      # links libpython$minor.so. Every image and every build cache would carry them.
      rm -f \$p/lib/python$minor/config-$minor-x86_64-linux-gnu/libpython$minor*.a
      find \$p -name __pycache__ -type d -prune -exec rm -rf {} +
      echo \"\$version\" > /out/VERSION
      chown -R $(id -u):$(id -g) /out
    "
  local version; version="$(cat "$work/VERSION")"
  local name="cpython-${version}+${ARCHIVE_BUILD}-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
  add_stdlib_bytecode "$work"
  archive_tree "$work" "$MIRROR_DIR/$ARCHIVE_BUILD/$name"
  rm -rf "$work"
  # Archives of an earlier packaging of the same interpreter would list it twice in the manifest.
  # (Their markers stay: a work tree still on the earlier packaging then finds it done.)
  local old
  for old in "$MIRROR_DIR"/debian"${DEBIAN_VERSION_ID}".[0-9]*; do
    [ "$old" = "$MIRROR_DIR/$ARCHIVE_BUILD" ] || rm -rf "$old"
  done
  printf '%s\n' "$version" > "$marker"
}

# A second minor version, compiled from Debian's source package (the upstream tarball as
# Debian ships it) inside the build image: a static-libpython build (no libpython.so, no
# rpath) relocates like python-build-standalone's, and links the same system libraries as
# the repackaged 3.11 (libssl, libffi, libsqlite3, libexpat, ...), which the run image has.
# No PGO/LTO and no test run: about 6 minutes on 2 cores (measured: see docs/python.md).
COMPILED_VERSION=3.13.5
COMPILED_SOURCE_URL="http://deb.debian.org/debian/pool/main/p/python3.13/python3.13_${COMPILED_VERSION}.orig.tar.xz"
# From trixie's Sources index (python3.13 3.13.5-2+deb13u5).
COMPILED_SOURCE_SHA256=93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640
# Build tag of the compiled archives; bump when the build below changes.
COMPILED_BUILD="debian${DEBIAN_VERSION_ID}src.2"
# The same compile before the standard library's bytecode was added (src.2 = src.1 + pycs):
# a machine that has it gets src.2 in seconds instead of compiling CPython again.
PREVIOUS_COMPILED_BUILD="debian${DEBIAN_VERSION_ID}src.1"

make_compiled_cpython() {
  local version="$COMPILED_VERSION" minor="${COMPILED_VERSION%.*}"
  local marker="$MIRROR_DIR/.cpython-$version-$COMPILED_BUILD.done"
  [ -f "$marker" ] && { info "CPython $version archive cached"; return; }
  local name="cpython-${version}+${COMPILED_BUILD}-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
  local previous="$MIRROR_DIR/$PREVIOUS_COMPILED_BUILD/cpython-${version}+${PREVIOUS_COMPILED_BUILD}-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
  if [ -f "$previous" ]; then
    step "Adding the standard library's bytecode to the compiled CPython $version ($PREVIOUS_COMPILED_BUILD)"
    local work; work="$(mktemp -d "$BLACKLODGE_CACHE/cpython-XXXX")"
    tar -C "$work" -xzf "$previous"
    add_stdlib_bytecode "$work"
    archive_tree "$work" "$MIRROR_DIR/$COMPILED_BUILD/$name"
    rm -rf "$work" "$MIRROR_DIR/$PREVIOUS_COMPILED_BUILD"
    printf '%s\n' "$version" > "$marker"
    return
  fi
  local sources="$BLACKLODGE_CACHE/sources" source
  source="$sources/$(basename "$COMPILED_SOURCE_URL")"
  mkdir -p "$sources"
  if [ ! -f "$source" ]; then
    step "Downloading the CPython $version source ($COMPILED_SOURCE_URL)"
    curl -fsSL --retry 3 -o "$source.tmp" "$COMPILED_SOURCE_URL"
    echo "$COMPILED_SOURCE_SHA256  $source.tmp" | sha256sum -c --quiet - \
      || { rm -f "$source.tmp"; die "the CPython source has the wrong sha256" "$COMPILED_SOURCE_URL" "check the pinned COMPILED_SOURCE_SHA256 in bench/steps/python.sh"; }
    publish "$source.tmp" "$source"
  fi
  step "Compiling CPython $version (no PGO/LTO, tests skipped; cached once built)"
  local work started; work="$(mktemp -d "$BLACKLODGE_CACHE/cpython-XXXX")"
  started=$(date +%s)
  run_logged "compiling CPython $version" "$BLACKLODGE_CACHE/cpython-$version.log" \
    docker run --rm --network host -u 0 -v "$work:/out" -v "$source:/src.tar.xz:ro" "$BUILD_IMAGE" bash -euo pipefail -c "
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends libreadline-dev libncurses-dev uuid-dev libexpat1-dev >/dev/null
      mkdir /build && cd /build
      tar -xJf /src.tar.xz --strip-components=1
      # Static libpython (the default): the interpreter finds its prefix from its own
      # location, so the tree works wherever it is unpacked. (The static library itself is
      # only for embedding and is dropped below: 67 MB.)
      ./configure --prefix=/install --with-ensurepip=no --with-system-expat \
        --without-system-libmpdec --disable-test-modules >/dev/null
      make -j2 >/dev/null
      make install >/dev/null
      p=/out/python
      mv /install \$p
      rm -rf \$p/share \$p/lib/python$minor/test \$p/lib/python$minor/idlelib \
        \$p/lib/python$minor/tkinter \$p/lib/python$minor/turtledemo \
        \$p/lib/libpython$minor.a \$p/lib/python$minor/config-$minor-x86_64-linux-gnu/libpython$minor.a
      find \$p -name __pycache__ -type d -prune -exec rm -rf {} +
      strip --strip-unneeded \$p/bin/python$minor \$p/lib/python$minor/lib-dynload/*.so
      ln -sf python$minor \$p/bin/python
      if readelf -d \$p/bin/python$minor \$p/lib/python$minor/lib-dynload/*.so | grep -E 'RPATH|RUNPATH'; then
        echo 'unexpected rpath: the tree would not relocate' >&2; exit 1
      fi
      chown -R $(id -u):$(id -g) /out
    "
  info "compiled in $(( $(date +%s) - started ))s"
  # Relocation check on the run image, as the app user: unpacked somewhere else, the
  # interpreter finds its prefix and every common extension module loads.
  run_logged "checking the compiled CPython $version on $RUN_IMAGE" "$BLACKLODGE_CACHE/cpython-$version-check.log" \
    docker run --rm --network none -v "$work/python:/opt/elsewhere/python:ro" "$RUN_IMAGE" \
      /opt/elsewhere/python/bin/python3 -c "$STACK_CHECK
assert sys.version.startswith('$version'), sys.version
print(sys.prefix, ssl.OPENSSL_VERSION)"
  add_stdlib_bytecode "$work"
  archive_tree "$work" "$MIRROR_DIR/$COMPILED_BUILD/$name"
  rm -rf "$work"
  printf '%s\n' "$version" > "$marker"
}

# mark_stacks: for each archive of the mirror, the stacks whose run image it runs on, in
# <archive>.distros (a first line naming the stacks checked, then "name version" per line).
# Checked again when BLACKLODGE_STACKS changes.
mark_stacks() {
  local archive checked="checked: $BLACKLODGE_STACKS" suite work distros
  for archive in "$MIRROR_DIR"/*/cpython-*.tar.gz; do
    [ -f "$archive" ] || continue
    if [ -f "$archive.distros" ] && [ "$(head -n 1 "$archive.distros")" = "$checked" ]; then continue; fi
    work="$(mktemp -d "$BLACKLODGE_CACHE/cpython-XXXX")"
    tar -C "$work" -xzf "$archive"
    distros="$checked"
    for suite in $(stack_suites); do
      use_stack "$suite"
      if docker run --rm --network none -v "$work/python:/opt/elsewhere/python:ro" "$RUN_IMAGE" \
           /opt/elsewhere/python/bin/python3 -c "$STACK_CHECK" >"$BLACKLODGE_CACHE/cpython-check-$suite.log" 2>&1; then
        distros="$distros"$'\n'"debian $DEBIAN_VERSION_ID"
      else
        info "$(basename "$archive") does not run on $RUN_IMAGE (see $BLACKLODGE_CACHE/cpython-check-$suite.log): not offered on $suite"
      fi
    done
    rm -rf "$work"
    printf '%s\n' "$distros" > "$archive.distros.tmp"
    publish "$archive.distros.tmp" "$archive.distros"
    info "$(basename "$archive") runs on: $(tail -n +2 "$archive.distros" | paste -sd, - | sed 's/,/, /g')"
  done
  use_stack "$DEFAULT_SUITE"
}

write_manifest() {
  python3 - "$MIRROR_DIR" "$MIRROR_URL" <<'PY'
import hashlib, json, os, re, sys
mirror, base = sys.argv[1], sys.argv[2]
archives = []
for build in sorted(os.listdir(mirror)):
    d = os.path.join(mirror, build)
    if not os.path.isdir(d):
        continue
    for name in sorted(os.listdir(d)):
        m = re.fullmatch(r"cpython-([0-9.]+)\+([^-]+)-(x86_64|aarch64)-unknown-linux-gnu-install_only_stripped\.tar\.gz", name)
        if not m:
            continue
        h = hashlib.sha256()
        with open(os.path.join(d, name), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        # The stacks it was checked on (mark_stacks); none: it runs on no stack, left out.
        with open(os.path.join(d, name + ".distros")) as f:
            distros = [dict(zip(("name", "version"), line.split())) for line in f.read().splitlines()[1:]]
        if not distros:
            continue
        archives.append({"version": m.group(1), "arch": m.group(3), "libc": "gnu", "build": m.group(2),
                         "url": f"{base}/{build}/{name.replace('+', '%2B')}", "sha256": h.hexdigest(),
                         "distros": distros})
def write(name, manifest):
    tmp = os.path.join(mirror, name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, os.path.join(mirror, name))
source = "blacklodge bench: CPython repackaged from Debian packages or compiled from Debian's source"
write("manifest.json", {"source": source, "archives": archives})
# The same archives under their upstream (python-build-standalone release) URLs, like the
# manifest the buildpack ships: with BP_PYTHON_MIRROR_URL pointing at this mirror, whose
# <build>/<file> layout is the upstream one, a build exercises the real mirror rewrite.
upstream = "https://github.com/astral-sh/python-build-standalone/releases/download"
write("manifest-upstream.json", {"source": source + " (upstream URLs)", "archives": [
    dict(a, url=a["url"].replace(base, upstream, 1)) for a in archives]})
print(f"    manifest: {len(archives)} archive(s)", file=sys.stderr)
PY
}

serve_mirror() {
  serve_dir "the CPython mirror" "$MIRROR_DIR" "$MIRROR_PORT" "$MIRROR_URL/manifest.json" BLACKLODGE_MIRROR_PORT mirror.log
}

# Two phases, so the long compile needs only the default stack's images: `archives` makes the
# archives, `serve` checks them on every stack, writes the manifests and starts the mirror
# (bench/setup runs it once every stack's images exist). Without an argument: both.
case "${1:-all}" in
  archives) make_debian_cpython 3.11; make_compiled_cpython ;;
  serve) mark_stacks; write_manifest; serve_mirror ;;
  all) make_debian_cpython 3.11; make_compiled_cpython; mark_stacks; write_manifest; serve_mirror ;;
  *) die "unknown phase '$1' of bench/steps/python.sh" "the phases are archives, serve and all" "run it with one of them, or none" ;;
esac

