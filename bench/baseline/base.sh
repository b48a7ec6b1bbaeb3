#!/usr/bin/env bash
# Makes the base image of bench/baseline/Dockerfile: FROM-IMAGE with our CPython 3.11 (from the
# bench's mirror, the archive our buildpack installs) in /opt/python, an empty venv in /venv
# on PATH, and uv at the version our buildpacks pin (buildpacks/python-deps/requirements/uv.txt,
# its wheel checked against the pinned sha256). Bytecode compiled at install, as ours does.
#   bench/baseline/base.sh FROM-IMAGE TAG WORK-DIR
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ $# = 3 ] || die "usage: bench/baseline/base.sh FROM-IMAGE TAG WORK-DIR" "three arguments" "e.g. bench/baseline/base.sh blacklodge/build:bookworm blacklodge-bench/rebuild-base /tmp/base"
from="$1" tag="$2" ctx="$3"
mkdir -p "$ctx"
url="$(curl -fsS "$MIRROR_URL/manifest.json" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(next(a["url"] for a in m["archives"] if a["version"].startswith("3.11.")))')" \
  || die "no CPython 3.11 in the mirror's manifest" "$MIRROR_URL/manifest.json did not answer or lists none" "run bench/setup"
curl -fsS -o "$ctx/cpython.tar.gz" "$url"
pin="$(grep -v '^#' "$REPO_DIR/buildpacks/python-deps/requirements/uv.txt" | grep .)"
version="${pin%% *}"; version="${version#uv==}"; sha="${pin##*sha256:}"
wheel_url="$(curl -fsS "https://pypi.org/simple/uv/" | grep -o "https://[^\"#]*uv-$version-[^\"#]*manylinux[^\"#]*x86_64[^\"#]*\.whl" | while read -r u; do
  curl -fsS -o "$ctx/uv.whl" "$u" && [ "$(sha256sum "$ctx/uv.whl" | cut -d' ' -f1)" = "$sha" ] && { echo "$u"; break; }; done)"
[ -n "$wheel_url" ] || die "no uv $version wheel with sha256 $sha on PyPI" "the pin in buildpacks/python-deps/requirements/uv.txt was not found" "check the network and the pin"
rm -rf "$ctx/uv-unpacked" && python3 -m zipfile -e "$ctx/uv.whl" "$ctx/uv-unpacked"
cp "$ctx/uv-unpacked/uv-$version.data/scripts/uv" "$ctx/uv"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $from
USER root
COPY cpython.tar.gz uv /tmp/
RUN tar -C /opt -xzf /tmp/cpython.tar.gz && install -m 755 /tmp/uv /usr/local/bin/uv && rm /tmp/cpython.tar.gz /tmp/uv \
 && /opt/python/bin/python3 -m venv --without-pip /venv && chown -R 1000:1000 /venv
ENV PATH=/venv/bin:/opt/python/bin:\$PATH VIRTUAL_ENV=/venv UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_SYSTEM_CERTS=1 UV_PYTHON_DOWNLOADS=never
DOCKERFILE
DOCKER_BUILDKIT=0 docker build --network host -q -t "$tag" -f "$ctx/Dockerfile" "$ctx" >/dev/null
