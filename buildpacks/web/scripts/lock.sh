#!/usr/bin/env bash
# Refresh buildpacks/web/requirements/servers.lock: the servers of requirements/servers.in
# resolved to exact versions with the sha256 of every file the index has for them.
#
# Universal resolution (markers where needed) for every CPython from the oldest minor the python
# buildpack installs (buildpacks/python/data/support.toml) on, with the uv the uv buildpack pins
# (buildpacks/python-deps/requirements/uv.txt, installed hash-checked into a scratch venv).
# blacklodge/web installs from the lock with pip --require-hashes; its unit tests fail while
# the lock is out of date with servers.in.
#
#   buildpacks/web/scripts/lock.sh      # index: $UV_INDEX_URL, else $PIP_INDEX_URL, else PyPI
set -euo pipefail

web="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$web/../.." && pwd)"
cd "$repo"

oldest="$(sed -n 's/^oldest = "\(.*\)"$/\1/p' buildpacks/python/data/support.toml)"
[ -n "$oldest" ] || { echo "no oldest = \"3.x\" in buildpacks/python/data/support.toml" >&2; exit 1; }
uv_pin="$(grep -v '^#' buildpacks/python-deps/requirements/uv.txt | grep -m1 '^uv==')"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
echo "$uv_pin" > "$scratch/uv.txt"
"$scratch/venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$scratch/uv.txt"

index="${UV_INDEX_URL:-${PIP_INDEX_URL:-https://pypi.org/simple}}"
servers="$(grep -v '^#' "$web/requirements/servers.in" | grep . | paste -sd, - | sed 's/,/, /g')"
"$scratch/venv/bin/uv" pip compile "$web/requirements/servers.in" \
    --universal \
    --python-version "$oldest" \
    --generate-hashes \
    --index-url "$index" \
    --custom-compile-command "buildpacks/web/scripts/lock.sh" \
    --no-header \
    --quiet \
    --output-file "$scratch/lock.txt"
{
    echo "# The servers blacklodge/web installs when the app lacks them, locked: $servers"
    echo "# For CPython >= $oldest on any platform; refreshed by buildpacks/web/scripts/lock.sh."
    sed "s|$web/||" "$scratch/lock.txt"
} > "$web/requirements/servers.lock"
echo "servers.lock: $(grep -c '^[a-z0-9]' "$web/requirements/servers.lock") pinned distributions for $servers (Python >= $oldest)"
