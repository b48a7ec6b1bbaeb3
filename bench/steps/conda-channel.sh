# The bench's conda channel: real `.conda` packages (python 3.13 from the bench's compiled
# CPython, pip, flask and its dependencies + gunicorn in two versions each, and a native
# library + Python extension with prefix placeholders), indexed with rattler and served as
# channel `conda-forge` on http://127.0.0.1:$CONDA_PORT (with a second channel, `bench-extra`,
# for channel priority). Also writes the lock fixtures
# (environment.yml, explicit list, conda-lock.yml) under /fixtures/. See docs/bench.md.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

SRC="$BENCH_DIR/conda-channel"
CHANNELS_DIR="$BLACKLODGE_CACHE/conda-channel"
MIRROR_DIR="$BLACKLODGE_CACHE/mirror"
VENV="$(conda_tools_venv)"
mkdir -p "$CHANNELS_DIR"

make_tools_venv() {
  [ -f "$VENV/.done" ] && { info "conda channel tools cached"; return; }
  step "Installing the conda channel tools (py-rattler, zstandard) into a venv"
  # A venv records its own path, so it is made in place; the marker says it is complete.
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  run_logged "installing the conda channel tools" "$BLACKLODGE_CACHE/conda-tools-pip.log" \
    "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes --only-binary :all: \
      -r "$SRC/tools.requirements.txt"
  touch "$VENV/.done"
}

# The CPython 3.13 archive of the mirror (its manifest is the one list of archives).
python_archive() {
  "$VENV/bin/python" - "$MIRROR_DIR" <<'PY'
import json, sys, urllib.parse
mirror = sys.argv[1]
archives = [a for a in json.load(open(f"{mirror}/manifest.json"))["archives"] if a["version"].startswith("3.13.")]
if not archives:
    sys.exit("no CPython 3.13 archive in the mirror's manifest.json (bench/steps/python.sh makes it)")
a = archives[-1]
path = urllib.parse.unquote(a["url"].split("/", 3)[3])
print(f"{mirror}/{path} {a['sha256']}")
PY
}

download_wheels() {  # download_wheels DIR SHEET...: the hash-pinned wheels of each sheet into DIR
  local dir="$1" sheet; shift
  for sheet in "$@"; do
    run_logged "downloading the wheels of $(basename "$sheet")" "$BLACKLODGE_CACHE/conda-wheels.log" \
      "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --require-hashes --only-binary :all: \
        --python-version 3.13 --implementation cp --abi cp313 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform any -d "$dir" -r "$sheet"
  done
}

build_channel() {
  local archive="$1" key="$2"
  local dir="$CHANNELS_DIR/$key"
  [ -f "$dir/.done" ] && { info "conda channel $key cached"; return; }
  step "Building the conda channel ($key)"
  local started; started=$(date +%s)
  work="$(mktemp -d "$CHANNELS_DIR/build-XXXX")"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/python" "$work/native/libblgreet/lib" "$work/native/blgreet"
  tar -C "$work" -xzf "$archive"
  download_wheels "$work/wheels" "$SRC"/wheels-*.txt
  download_wheels "$work/extra" "$SRC/extra-wheels.txt"
  # libblgreet and its extension, compiled against the prefix placeholder on the build image
  # (the run image's glibc); the extension finds the library through an RPATH holding it.
  local placeholder site="lib/python3.13/site-packages"
  placeholder="$("$VENV/bin/python" "$SRC/build.py" --placeholder)"
  run_logged "compiling libblgreet and the blgreet extension" "$BLACKLODGE_CACHE/conda-native.log" \
    docker run --rm --network none -u "$(id -u):$(id -g)" -v "$SRC/blgreet:/src:ro" \
      -v "$work/python:/py:ro" -v "$work/native:/out" "$BUILD_IMAGE" bash -euo pipefail -c "
      cd /out/libblgreet/lib
      gcc -O2 -fPIC -shared -Wall -Werror -I/src -DBLGREET_PREFIX='\"$placeholder\"' \
        -Wl,-soname,libblgreet.so.1 -o libblgreet.so.1 /src/blgreet.c
      ln -s libblgreet.so.1 libblgreet.so
      mkdir -p /out/blgreet/$site/blgreet
      gcc -O2 -fPIC -shared -Wall -Werror -I/src -I/py/include/python3.13 \
        -o /out/blgreet/$site/blgreet/_blgreet.cpython-313-x86_64-linux-gnu.so /src/_blgreet.c \
        -L/out/libblgreet/lib -lblgreet -Wl,-rpath,$placeholder/lib
    "
  run_logged "assembling and indexing the conda packages" "$BLACKLODGE_CACHE/conda-build.log" \
    "$VENV/bin/python" "$SRC/build.py" --python "$work/python" --native "$work/native" \
      --wheels "$work/wheels" --extra-wheels "$work/extra" --out "$work/channel"
  # The reference environment, installed by rattler and run on the run image from the
  # same path: python starts, flask imports, the extension loads libblgreet (only possible
  # when the installer rewrote the RPATH placeholder) and reads its data file.
  local prefix="$work/check-env"
  run_logged "solving and installing the reference environment" "$BLACKLODGE_CACHE/conda-fixtures.log" \
    "$VENV/bin/python" "$SRC/fixtures.py" --channel-dir "$work/channel" --url "$CONDA_URL" \
      --prefix "$prefix" --cache "$work/rattler-cache" --out "$work/channel/fixtures"
  run_logged "checking the reference environment on $RUN_IMAGE" "$BLACKLODGE_CACHE/conda-check.log" \
    docker run --rm --network none -u "$(id -u):$(id -g)" -v "$prefix:$prefix:ro" "$RUN_IMAGE" \
      "$prefix/bin/python" -c "
import sys, flask, gunicorn, blgreet, ssl, sqlite3
from importlib.metadata import version
assert sys.prefix == '$prefix', sys.prefix
assert blgreet.prefix() == sys.prefix, blgreet.prefix()
assert blgreet.message() == 'hello from libblgreet', blgreet.message()
import sysconfig; assert sysconfig.get_config_var('prefix') == sys.prefix, sysconfig.get_config_var('prefix')
print(sys.version.split()[0], version('flask'), version('werkzeug'), blgreet.message())"
  grep -q "^export BLGREET_HOME=\"$prefix/share/blgreet\"\$" "$prefix/etc/conda/activate.d/libblgreet_activate.sh" \
    || die "the activation script's placeholder was not rewritten" "see $prefix/etc/conda/activate.d/libblgreet_activate.sh" "fix bench/conda-channel/build.py"
  mv "$work/channel" "$work/$key"
  publish "$work/$key" "$dir"
  rm -rf "$work"
  touch "$dir/.done"
  # Channels of earlier sources are not served again (a work tree still on them rebuilds).
  local old
  for old in "$CHANNELS_DIR"/*/.done; do
    old="$(dirname "$old")"
    [ "$old" = "$dir" ] || rm -rf "$old"
  done
  info "built in $(( $(date +%s) - started ))s"
}

serve_channel() {
  local key="$1"
  # `current` is what the server serves; switching it is atomic and needs no restart.
  ln -sfn "$key" "$CHANNELS_DIR/current.tmp"
  mv -T "$CHANNELS_DIR/current.tmp" "$CHANNELS_DIR/current"
  serve_dir "the conda channel" "$CHANNELS_DIR/current" "$CONDA_PORT" "$CONDA_URL/conda-forge/noarch/repodata.json" \
    BLACKLODGE_CONDA_PORT conda-channel.log
}

make_tools_venv
read -r archive archive_sha < <(python_archive)
[ -f "$archive" ] || die "the CPython 3.13 archive is missing" "$archive is listed in $MIRROR_DIR/manifest.json" "re-run bench/setup (bench/steps/python.sh makes it)"
# The channel is keyed by everything it is made of: the sources here, the interpreter and
# the URL the fixtures name.
key="$( { cat "$SRC"/*.py "$SRC"/*.txt "$SRC"/blgreet/*; echo "$archive_sha $CONDA_URL"; } | sha256sum | cut -c1-12)"
build_channel "$archive" "$key"
serve_channel "$key"
