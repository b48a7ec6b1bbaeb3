#!/usr/bin/env bash
# Refresh harness/requirements.lock: the harness's runtime dependencies ([project] dependencies
# of harness/pyproject.toml) and its `kafka` extra (confluent-kafka, for the worker mode)
# resolved together to exact versions with the sha256 of every file PyPI has for them. The
# wrapper buildpack installs from this lock with pip --require-hashes: the dependencies for
# every app, the extra's only for apps with the worker mode. The second line of the lock names
# the distributions only the extra needs (a resolution without the extra, compared by name).
#
# The resolution is universal (markers where needed) for every CPython from the oldest minor
# the python buildpack installs (buildpacks/python/data/support.toml) on, so one lock serves
# every supported version. It runs uv at the version the uv buildpack pins
# (buildpacks/python-deps/requirements/uv.txt, installed hash-checked into harness/.venv-lock).
# Run it after changing the dependencies in harness/pyproject.toml, or to take new releases;
# the wrapper's unit tests fail while the lock is out of date with pyproject.toml.
#
#   harness/scripts/lock.sh            # index: $UV_INDEX_URL, else $PIP_INDEX_URL, else PyPI
set -euo pipefail

harness="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(dirname "$harness")"
cd "$repo"

oldest="$(sed -n 's/^oldest = "\(.*\)"$/\1/p' buildpacks/python/data/support.toml)"
[ -n "$oldest" ] || { echo "no oldest = \"3.x\" in buildpacks/python/data/support.toml" >&2; exit 1; }
uv_pin="$(grep -v '^#' buildpacks/python-deps/requirements/uv.txt | grep -m1 '^uv==')"
uv_version="${uv_pin#uv==}"
uv_version="${uv_version%% *}"

venv="$harness/.venv-lock"
if [ "$("$venv/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$uv_version" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    requirement="$(mktemp)"
    trap 'rm -f "$requirement"' EXIT
    echo "$uv_pin" > "$requirement"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$requirement"
fi

index="${UV_INDEX_URL:-${PIP_INDEX_URL:-https://pypi.org/simple}}"
# project KEY...: the requirement list at [project] KEY... of harness/pyproject.toml, joined by ", ".
project() {
    python3 -c 'import functools, sys, tomllib; table = tomllib.load(open("harness/pyproject.toml", "rb"))["project"]; print(", ".join(functools.reduce(lambda t, k: t[k], sys.argv[1:], table)))' "$@"
}
dependencies="$(project dependencies)"
kafka="$(project optional-dependencies kafka)"
compile() {
    "$venv/bin/uv" pip compile harness/pyproject.toml \
        --universal \
        --python-version "$oldest" \
        --generate-hashes \
        --index-url "$index" \
        --custom-compile-command "harness/scripts/lock.sh" \
        --quiet \
        "$@"
}
names() { grep -o '^[a-z0-9][a-z0-9._-]*' "$1" | sort -u; }
output="$(mktemp)"
base="$(mktemp)"
compile --extra kafka --output-file "$output"
compile --output-file "$base"
only_kafka="$(comm -23 <(names "$output") <(names "$base") | paste -sd, - | sed 's/,/, /g')"
[ -n "$only_kafka" ] || { echo "the kafka extra adds no distribution to the lock" >&2; exit 1; }
{
    echo "# The harness's runtime dependencies, locked: $dependencies"
    echo "# With the kafka extra (the worker mode): $kafka; distributions only it needs: $only_kafka"
    echo "# For CPython >= $oldest on any platform; installed by blacklodge/wrapper with pip --require-hashes."
    cat "$output"
} > harness/requirements.lock
rm -f "$output" "$base"
echo "harness/requirements.lock: $(grep -c '^[a-z0-9]' harness/requirements.lock) pinned distributions for $dependencies and the kafka extra, $kafka (only for it: $only_kafka; Python >= $oldest)"
