# The images the images and start benchmarks measure, built the same way for both: ours with
# pack and the bench's builder, the Dockerfile's (bench/benchmarks/images/Dockerfile, multi-stage
# with uv) with the legacy builder. Source it after bench/lib.sh.
# shellcheck shell=bash

IMAGES_DIR="$BENCH_DIR/benchmarks/images"
# The run image both sides are based on (default: the stack's; BENCH_RUN_IMAGE to measure another).
BENCH_RUN="${BENCH_RUN_IMAGE:-$RUN_IMAGE}"

# The two apps: the Procfile app (bench/apps/flask-numpy-pandas, pip flavour) and the wrapped
# function (examples/wrapped-function), which the Dockerfile serves as the hand-written Flask
# app of the wrapper benchmark (bench/benchmarks/wrapper/peer_flask_app.py).
# shellcheck disable=SC2034 # used by the scripts that source this file
APP_NAMES=(procfile function)
app_source() { case "$1" in procfile) echo "$BENCH_DIR/apps/flask-numpy-pandas" ;; function) echo "$REPO_DIR/examples/wrapped-function" ;; esac; }
# app_request NAME PORT: the request whose first 200 counts (curl's arguments, one a line).
app_request() {
  case "$1" in
    procfile) printf '%s\n' "http://127.0.0.1:$2/" ;;
    function) printf '%s\n' "http://127.0.0.1:$2/predict" -H 'Content-Type: application/json' -d '{"amount": 120, "items": 3}' ;;
  esac
}

# uv_binary: the uv release of buildpacks/python-deps/requirements/uv.txt (the one our builds
# use), its wheel checked against the hash pinned there; cached per machine.
uv_binary() {
  local pin version sha dir url
  pin="$(grep '^uv==' "$REPO_DIR/buildpacks/python-deps/requirements/uv.txt")"
  version="$(sed -E 's/^uv==([^ ]+).*/\1/' <<<"$pin")"
  sha="$(sed -E 's/.*--hash=sha256:([0-9a-f]+).*/\1/' <<<"$pin")"
  dir="$TOOLS_DIR/uv-$version"
  if [ ! -x "$dir/uv" ]; then
    url="$(curl -fsS https://pypi.org/simple/uv/ | grep -o "https://[^\"#]*#sha256=$sha" | head -n 1)"
    [ -n "$url" ] || die "cannot find uv $version's wheel on PyPI" \
      "no file of the release has the sha256 of buildpacks/python-deps/requirements/uv.txt" "check the network, or the pin"
    mkdir -p "$dir"
    curl -fsS -o "$dir/uv.whl" "$url"
    echo "$sha  $dir/uv.whl" | sha256sum -c --quiet - || die "uv's wheel does not match its pinned hash" "$url" "check the proxy, or the pin"
    python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], "wb").write(z.read(next(n for n in z.namelist() if n.endswith("/scripts/uv"))))' "$dir/uv.whl" "$dir/uv.tmp"
    chmod +x "$dir/uv.tmp" && rm "$dir/uv.whl" && publish "$dir/uv.tmp" "$dir/uv"
  fi
  echo "$dir/uv"
}

# dockerfile_context NAME DIR: the Dockerfile's build context for app NAME.
dockerfile_context() {
  local name="$1" dir="$2" url
  rm -rf "$dir" && mkdir -p "$dir/app"
  cp "$IMAGES_DIR/Dockerfile" "$(uv_binary)" "$dir/"
  url="$(curl -fsS "$MIRROR_URL/manifest.json" | python3 -c 'import json, sys; print(next(a["url"] for a in json.load(sys.stdin)["archives"] if a["version"] == "3.11.2"))')"
  curl -fsS -o "$dir/cpython.tar.gz" "$url"
  case "$name" in
    procfile)
      cp "$BENCH_DIR/apps/flask-numpy-pandas/pip/requirements.txt" "$dir/"
      cp "$BENCH_DIR/apps/flask-numpy-pandas/app.py" "$dir/app/" ;;
    function)
      # The Flask and gunicorn of the Procfile app, the function beside the Flask app.
      grep -E '^(flask|gunicorn)==' "$BENCH_DIR/apps/flask-numpy-pandas/pip/requirements.txt" >"$dir/requirements.txt"
      cp "$REPO_DIR/examples/wrapped-function/model.py" "$dir/app/"
      cp "$BENCH_DIR/benchmarks/wrapper/peer_flask_app.py" "$dir/app/app.py" ;;
  esac
}

# build_dockerfile NAME IMAGE LOG: the Dockerfile image of app NAME.
build_dockerfile() {
  local context; context="$(mktemp -d)"
  dockerfile_context "$1" "$context"
  DOCKER_BUILDKIT=0 docker build --network host --build-arg "BUILD_IMAGE=$BUILD_IMAGE" \
    --build-arg "RUN_IMAGE=$BENCH_RUN" -t "$2" "$context" >"$3" 2>&1 \
    || { tail -n 30 "$3" >&2; die "docker build of the $1 app failed" "see the log above ($3)" "fix it, then re-run"; }
  rm -rf "$context"
}

# build_ours NAME IMAGE LOG: our image of app NAME (pack, the bench's builder, CPython 3.11).
build_ours() {
  local app; app="$(mktemp -d)"
  copy_app "$(app_source "$1")" "$app"
  if [ "$1" = procfile ]; then
    rm -rf "$app"/{pip,uv,poetry,pipenv} && copy_app "$BENCH_DIR/apps/flask-numpy-pandas/pip" "$app"
  fi
  printf '3.11\n' >"$app/.python-version"
  local cache="blacklodge-bench-images-$$-$1"
  pack build "$2" --builder "$BUILDER_IMAGE" --run-image "$BENCH_RUN" --path "$app" \
    --network host --pull-policy if-not-present --trust-builder \
    --cache "type=build;format=volume;name=$cache-build" --cache "type=launch;format=volume;name=$cache-launch" \
    --env "BP_PYTHON_MANIFEST_URL=$MIRROR_URL/manifest.json" >"$3" 2>&1 \
    || { tail -n 30 "$3" >&2; die "pack build of the $1 app failed" "see the log above ($3)" "run bench/setup, then re-run"; }
  rm -rf "$app"
  docker volume rm -f "$cache-build" "$cache-launch" >/dev/null
}

image_mb() { docker image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.1f", $1 / 1000000 }'; }

# remove_images PREFIX: the images a benchmark made (their names start with PREFIX).
remove_images() {
  local images
  mapfile -t images < <(docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$1")
  [ "${#images[@]}" = 0 ] || docker image rm "${images[@]}" >/dev/null 2>&1 || true
}
