#!/usr/bin/env bash
# Run the harness test suite in harness/.venv.
#
# Equivalent to: python3 -m venv .venv && .venv/bin/pip install -e '.[dev,kafka]' && .venv/bin/mypy && .venv/bin/pytest -q
# but idempotent: the venv is reused, and the install is skipped while
# pyproject.toml is unchanged since the last successful install.
# Extra arguments go to pytest. PYTHON selects the interpreter for a new venv.
#
# The Kafka worker's tests (tests/test_kafka_worker.py) run against a real broker: the one
# BLACKLODGE_KAFKA_BOOTSTRAP names (bench/test exports the bench's), else the bench's broker,
# started here with bench/kafka start when it is not running. They fail, never skip, when
# there is no broker.
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

if [ -z "${BLACKLODGE_KAFKA_BOOTSTRAP:-}" ]; then
    kafka="$(cd .. && pwd)/bench/kafka"
    if [ ! -x "$kafka" ]; then
        echo "error: the Kafka worker tests need a broker, and $kafka (which starts the bench's) is missing" >&2
        echo "  fix: set BLACKLODGE_KAFKA_BOOTSTRAP=host:port of a running broker" >&2
        exit 1
    fi
    if ! "$kafka" start; then
        echo "error: could not start the bench's Kafka broker for the Kafka worker tests (see above)" >&2
        echo "  fix: fix the cause and re-run, or set BLACKLODGE_KAFKA_BOOTSTRAP=host:port of a running broker" >&2
        exit 1
    fi
    export BLACKLODGE_KAFKA_BOOTSTRAP="127.0.0.1:${BLACKLODGE_KAFKA_PORT:-19092}"
fi

# Type check first (strict, settings in pyproject.toml): the package ships py.typed.
"$venv/bin/mypy" --no-error-summary
exec "$venv/bin/pytest" -q "$@"
