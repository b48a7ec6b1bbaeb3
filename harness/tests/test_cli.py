"""``blacklodge validate`` as the build runs it, and start-up failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Dict

from conftest import APPS


def blacklodge(*args: str, env: Dict[str, str] | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BLACKLODGE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "blacklodge_harness", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
    )


def test_validate_success_prints_json_summary() -> None:
    result = blacklodge("validate", "--json", "--entrypoint", "models:Model", "--app-dir", str(APPS))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert summary["kind"] == "class"
    assert summary["signature"] == "(payload)"
    assert summary["module_file"] == "models.py"
    assert summary["harness_version"]


def test_validate_reads_environment_and_working_directory() -> None:
    result = blacklodge("validate", env={"BLACKLODGE_ENTRYPOINT": "funcs:run"}, cwd=str(APPS))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["kind"] == "planqk-run"


def test_validate_failure_json_and_human_message() -> None:
    result = blacklodge("validate", "--json", "--entrypoint", "funcs:ecoh", "--app-dir", str(APPS))
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert json.loads(result.stdout)["ok"] is False
    assert error["title"] == "Entry point 'funcs:ecoh' not found"
    assert "echo (function)" in error["detail"]
    assert error["fix"] == "Set the entry point to 'funcs:echo'."
    assert result.stderr.startswith("error: Entry point 'funcs:ecoh' not found")
    assert "fix: Set the entry point to 'funcs:echo'." in result.stderr


def test_validate_without_json_prints_only_to_stderr_on_failure() -> None:
    result = blacklodge("validate", "--entrypoint", "broken_syntax:predict", "--app-dir", str(APPS))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Syntax error in broken_syntax.py at line 2" in result.stderr


def test_validate_keeps_stdout_clean_when_user_code_prints() -> None:
    result = blacklodge("validate", "--json", "--entrypoint", "printer_on_import:predict", "--app-dir", str(APPS))
    assert result.returncode == 0
    assert json.loads(result.stdout)["ok"] is True
    assert "noise printed while importing" in result.stderr


def test_validate_timeout_prints_the_stack_of_the_hung_import() -> None:
    started = time.monotonic()
    result = blacklodge("validate", "--json", "--timeout", "1", "--entrypoint", "hangs_on_import:predict", "--app-dir", str(APPS))
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Timeout (0:00:01)!" in result.stderr
    hung = str(APPS / "hangs_on_import.py")
    assert f'File "{hung}", line 7 in wait_forever' in result.stderr
    assert f'File "{hung}", line 10 in <module>' in result.stderr


def test_validate_timeout_does_not_fire_after_a_quick_import() -> None:
    result = blacklodge("validate", "--json", "--timeout", "30", "--entrypoint", "funcs:run", "--app-dir", str(APPS))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True


def test_validate_timeout_must_be_positive() -> None:
    result = blacklodge("validate", "--timeout", "0", "--entrypoint", "funcs:run", "--app-dir", str(APPS))
    assert result.returncode == 2
    assert "must be more than 0 seconds" in result.stderr


def test_validate_without_entry_point() -> None:
    result = blacklodge("validate", "--json", cwd=str(APPS))
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["title"] == "No entry point given"


def test_web_config_error_exits_3_before_starting() -> None:
    result = blacklodge("web", env={"BLACKLODGE_ENTRYPOINT": "funcs:echo", "PORT": "http"})
    assert result.returncode == 3
    assert "PORT='http' is invalid: expected a whole number from 1 to 65535" in result.stderr


def test_version() -> None:
    result = blacklodge("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("blacklodge-harness ")
