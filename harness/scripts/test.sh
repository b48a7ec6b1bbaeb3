#!/usr/bin/env bash
# Run the harness test suite in harness/.venv.
#
# Equivalent to: python3 -m venv .venv && .venv/bin/pip install -e '.[dev,kafka]' && .venv/bin/mypy && .venv/bin/pytest -q
# but idempotent: the venv is reused, and the install is skipped while
# pyproject.toml is unchanged since the last successful install.
# Extra arguments go to pytest. PYTHON selects the interpreter for a new venv.
set -euo pipefail

cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
venv=.venv
stamp="$venv/.blacklodge-install-stamp"

if ! "$venv/bin/python" -c "" 2>/dev/null; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi

wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ] || ! "$venv/bin/python" -c "import blacklodge_harness, pytest, confluent_kafka" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -e '.[dev,kafka]'
    echo "$wanted" > "$stamp"
fi

# Type check first (strict, settings in pyproject.toml): the package ships py.typed.
"$venv/bin/mypy" --no-error-summary
exec "$venv/bin/pytest" -q "$@"
