"""Job mode: PlanQK layouts, base64, stdin, JSON lines, outputs and exit codes."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import pytest

from blacklodge_harness.config import Settings
from blacklodge_harness.job import (
    EXIT_BAD_INPUT,
    EXIT_HANDLER_FAILED,
    EXIT_OK,
    EXIT_SETUP,
    JobOptions,
    OutputTarget,
    resolve_output,
    run_job,
)

from conftest import APPS

MARKER = "PlanQK:Job:Result: "


def run(
    settings: Settings, stdin: str = "", target: Optional[OutputTarget] = None, **options: Any
) -> Tuple[int, str]:
    stdout = io.StringIO()
    code = run_job(settings, JobOptions(**options), target, stdout=stdout, stdin=io.StringIO(stdin))
    return code, stdout.getvalue()


def marker(stdout: str) -> Any:
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    assert len(lines) == 1, stdout
    return json.loads(lines[0][len(MARKER) :])


def write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)


# ------------------------------------------------------------------ PlanQK layouts


def test_nested_layout_with_planqk_run(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    write(tmp_path / "input" / "data" / "data.json", '{"values": [1, 2]}')
    write(tmp_path / "input" / "params" / "params.json", '{"round": true}')
    code, stdout = run(settings_for("funcs:run"))
    assert code == EXIT_OK
    expected = {"data": {"values": [1, 2]}, "params": {"round": True}}
    assert marker(stdout) == expected
    assert json.loads((tmp_path / "result.json").read_text()) == expected


def test_flat_layout_and_missing_params(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    write(tmp_path / "input" / "data.json", "[1, 2, 3]")
    code, stdout = run(settings_for("funcs:run"))
    assert code == EXIT_OK
    assert marker(stdout) == {"data": [1, 2, 3], "params": {}}


def test_function_gets_data_as_payload_and_params_in_context(
    settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    write(tmp_path / "input" / "data.json", '{"a": 1}')
    write(tmp_path / "input" / "params.json", '{"p": 2}')
    code, stdout = run(settings_for("funcs:with_context"))
    assert code == EXIT_OK
    result = marker(stdout)
    assert result["mode"] == "job"
    assert result["params"] == {"p": 2}
    assert result["metadata"]["source"].endswith("data.json")


def test_base64_input(settings_for: Callable[..., Settings]) -> None:
    encode = lambda value: base64.b64encode(json.dumps(value).encode()).decode()  # noqa: E731
    settings = settings_for(
        "funcs:run", BASE64_ENCODED="true", DATA_VALUE=encode({"x": 1}), PARAMS_VALUE=encode({"y": 2})
    )
    code, stdout = run(settings)
    assert code == EXIT_OK
    assert marker(stdout) == {"data": {"x": 1}, "params": {"y": 2}}


def test_base64_errors_are_bad_input(settings_for: Callable[..., Settings]) -> None:
    code, stdout = run(settings_for("funcs:run", BASE64_ENCODED="true", DATA_VALUE="!!!not base64"))
    assert code == EXIT_BAD_INPUT
    assert marker(stdout)["error"]["type"] == "bad_input"
    code, _ = run(settings_for("funcs:run", BASE64_ENCODED="true"))
    assert code == EXIT_BAD_INPUT


def test_missing_input_lists_where_it_looked(
    settings_for: Callable[..., Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    code, stdout = run(settings_for("funcs:echo"))
    assert code == EXIT_BAD_INPUT
    assert marker(stdout)["error"]["message"] == "No job input found"
    assert str(tmp_path / "input" / "data" / "data.json") in caplog.text
    assert "BLACKLODGE_JOB_INPUT=none" in caplog.text


def test_malformed_json_input_names_file_and_position(
    settings_for: Callable[..., Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "input" / "data.json", '{"a": 1,}')
    code, _ = run(settings_for("funcs:echo"))
    assert code == EXIT_BAD_INPUT
    assert "data.json is not valid JSON" in caplog.text
    assert "at line 1, column " in caplog.text  # the exact column differs between Python versions


def test_params_must_be_an_object(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    write(tmp_path / "input" / "data.json", "1")
    write(tmp_path / "input" / "params.json", "[1]")
    assert run(settings_for("funcs:run"))[0] == EXIT_BAD_INPUT


# ------------------------------------------------------------------ file / stdin / none


def test_input_file_and_stdin(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    write(tmp_path / "payload.json", '{"k": "v"}')
    code, stdout = run(settings_for("funcs:echo"), input=str(tmp_path / "payload.json"))
    assert (code, marker(stdout)) == (EXIT_OK, {"echo": {"k": "v"}})
    code, stdout = run(settings_for("funcs:echo"), stdin="[1]", input="-")
    assert (code, marker(stdout)) == (EXIT_OK, {"echo": [1]})
    code, stdout = run(settings_for("funcs:echo", BLACKLODGE_JOB_INPUT="none"))
    assert (code, marker(stdout)) == (EXIT_OK, {"echo": None})


def test_planqk_run_from_a_file_takes_the_http_envelope(settings_for: Callable[..., Settings]) -> None:
    code, stdout = run(settings_for("funcs:run"), stdin='{"data": 1, "params": {"a": 2}}', input="-")
    assert (code, marker(stdout)) == (EXIT_OK, {"data": 1, "params": {"a": 2}})
    code, _ = run(settings_for("funcs:run"), stdin='{"oops": 1}', input="-")
    assert code == EXIT_BAD_INPUT


# ------------------------------------------------------------------ outcomes


def test_handler_failure_exits_1_without_leaking_details(settings_for: Callable[..., Settings]) -> None:
    code, stdout = run(settings_for("funcs:fails"), stdin="{}", input="-")
    assert code == EXIT_HANDLER_FAILED
    error = marker(stdout)["error"]
    assert error["type"] == "handler_error"
    assert "ValueError" in error["message"] and "hunter2" not in error["message"]


def test_bad_input_raised_by_handler_exits_2(settings_for: Callable[..., Settings]) -> None:
    code, stdout = run(settings_for("funcs:rejects"), stdin="{}", input="-")
    assert code == EXIT_BAD_INPUT
    assert marker(stdout)["error"] == {
        "type": "bad_input",
        "message": "field 'x' is required",
        "request_id": marker(stdout)["error"]["request_id"],
    }


def test_planqk_error_response_exits_1(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    write(tmp_path / "input" / "data.json", "{}")
    code, stdout = run(settings_for("funcs:planqk_error"))
    assert code == EXIT_HANDLER_FAILED
    assert marker(stdout)["error"]["message"] == "500: backend unavailable"


def test_unserializable_result_exits_1(settings_for: Callable[..., Settings]) -> None:
    code, stdout = run(settings_for("funcs:nan"), stdin="{}", input="-")
    assert code == EXIT_HANDLER_FAILED
    assert marker(stdout)["error"]["type"] == "result_not_serializable"


def test_entry_point_problem_exits_3(settings_for: Callable[..., Settings]) -> None:
    code, stdout = run(settings_for("funcs:does_not_exist"), stdin="{}", input="-")
    assert code == EXIT_SETUP
    assert marker(stdout)["error"]["type"] == "attribute_missing"


def test_load_failure_exits_1(settings_for: Callable[..., Settings]) -> None:
    code, stdout = run(settings_for("models:FailingLoad"), stdin="{}", input="-")
    assert code == EXIT_HANDLER_FAILED
    assert marker(stdout)["error"]["type"] == "load_failed"


def test_class_shutdown_runs_after_the_job(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    code, _ = run(settings_for("models:Model"), stdin="1", input="-")
    assert code == EXIT_OK
    assert sys.modules["models"].EVENTS[-3:] == ["init", "load", "shutdown"]


def test_text_and_bytes_results_go_raw_to_the_file(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    code, stdout = run(settings_for("funcs:text"), stdin="{}", input="-")
    assert (code, marker(stdout)) == (EXIT_OK, "plain text")
    assert (tmp_path / "result.json").read_text() == "plain text"
    code, stdout = run(settings_for("funcs:raw_bytes"), stdin="{}", input="-")
    assert base64.b64decode(marker(stdout)) == b"\x00\x01binary"
    assert (tmp_path / "result.json").read_bytes() == b"\x00\x01binary"


def test_marker_can_be_turned_off(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    code, stdout = run(settings_for("funcs:echo", BLACKLODGE_RESULT_MARKER="false"), stdin="1", input="-")
    assert code == EXIT_OK
    assert MARKER not in stdout
    assert json.loads((tmp_path / "result.json").read_text()) == {"echo": 1}


def test_output_to_stdout(settings_for: Callable[..., Settings]) -> None:
    code, stdout = run(settings_for("funcs:echo"), stdin="1", input="-", output="-")
    assert code == EXIT_OK
    assert stdout == '{"echo":1}\n'


# ------------------------------------------------------------------ output resolution


def test_explicit_output_directory_must_be_writable(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_for("funcs:echo", BLACKLODGE_OUTPUT_FILE=str(tmp_path / "missing" / "out.json"))
    code, _ = run(settings, stdin="1", input="-")
    assert code == EXIT_SETUP


def test_default_output_is_skipped_when_var_output_is_absent(settings_for: Callable[..., Settings]) -> None:
    env: Dict[str, str] = {}
    settings = settings_for("funcs:echo", **env)
    settings = Settings(**{**settings.__dict__, "output_file": None})
    target = resolve_output(settings)
    expected = "file" if os.access("/var/output", os.W_OK) else "none"
    assert target.kind == expected
    assert resolve_output(settings, jsonl=True).kind in ("file", "stdout")


# ------------------------------------------------------------------ JSON lines


def test_jsonl_batch_with_per_line_errors(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    batch = '{"data": 1}\n\n{"data": {"fail": true}}\nnot json\n{"data": 4, "params": {"p": 1}}\n'
    write(tmp_path / "batch.jsonl", batch)
    code, stdout = run(settings_for("funcs:run"), input=str(tmp_path / "batch.jsonl"), jsonl=True)
    assert code == EXIT_HANDLER_FAILED  # a handler failure outranks a malformed line
    records = [json.loads(line) for line in (tmp_path / "result.json").read_text().splitlines()]
    assert [r["line"] for r in records] == [1, 3, 4, 5]
    assert records[0]["result"] == {"data": 1, "params": {}}
    assert records[1]["error"]["type"] == "handler_error"
    assert records[2]["error"]["type"] == "invalid_json"
    assert records[3]["result"] == {"data": 4, "params": {"p": 1}}
    assert records[1]["error"]["request_id"].endswith("-3")
    assert marker(stdout) == {"lines": 4, "succeeded": 2, "failed": 2, "output": str(tmp_path / "result.json")}


def test_jsonl_only_bad_lines_exits_2(settings_for: Callable[..., Settings]) -> None:
    code, stdout = run(settings_for("funcs:echo"), stdin='1\n{"x":\n', input="-", jsonl=True, output="-")
    assert code == EXIT_BAD_INPUT
    records = [json.loads(line) for line in stdout.splitlines()]
    assert records[0] == {"line": 1, "result": {"echo": 1}}
    assert records[1]["error"]["type"] == "invalid_json"


def test_jsonl_all_good_exits_0(settings_for: Callable[..., Settings]) -> None:
    code, stdout = run(settings_for("funcs:echo"), stdin="1\n2\n", input="-", jsonl=True, output="-")
    assert code == EXIT_OK
    assert stdout.splitlines() == ['{"line":1,"result":{"echo":1}}', '{"line":2,"result":{"echo":2}}']


def test_jsonl_needs_an_input_file(settings_for: Callable[..., Settings]) -> None:
    assert run(settings_for("funcs:echo"), jsonl=True, output="-")[0] == EXIT_BAD_INPUT


# ------------------------------------------------------------------ the real command


def blacklodge(*args: str, env: Dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BLACKLODGE_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "blacklodge_harness", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_cli_job_prints_marker_and_json_logs(tmp_path: Path) -> None:
    env = {
        "BLACKLODGE_ENTRYPOINT": "funcs:chatty",
        "BLACKLODGE_APP_DIR": str(APPS),
        "BLACKLODGE_OUTPUT_FILE": str(tmp_path / "out.json"),
    }
    result = blacklodge("job", "--input", "-", env=env, stdin='{"secret_payload": 1}')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines.count(MARKER + '{"ok":true}') == 1
    logs = [json.loads(line) for line in lines if not line.startswith(MARKER)]
    assert {entry["mode"] for entry in logs} == {"job"}
    printed = next(entry for entry in logs if entry["logger"] == "stdout")
    assert printed["message"] == "hello from print"
    assert printed["request_id"]
    assert "secret_payload" not in result.stdout


def test_cli_job_output_dash_keeps_stdout_clean(tmp_path: Path) -> None:
    env = {"BLACKLODGE_ENTRYPOINT": "funcs:chatty", "BLACKLODGE_APP_DIR": str(APPS)}
    result = blacklodge("job", "--input", "-", "--output", "-", env=env, stdin="{}")
    assert result.returncode == 0
    assert result.stdout == '{"ok":true}\n'
    assert "hello from print" in result.stderr


def test_cli_job_config_error_exits_3() -> None:
    result = blacklodge("job", env={"BLACKLODGE_ENTRYPOINT": "funcs:echo", "BLACKLODGE_WORKERS": "abc"})
    assert result.returncode == 3
    assert "BLACKLODGE_WORKERS='abc' is invalid" in result.stderr
