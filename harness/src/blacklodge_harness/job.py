"""Job mode: read the input once, call the handler, write the result, exit.

Input, first match wins:

1. ``--input PATH`` / ``BLACKLODGE_JOB_INPUT``: a JSON file, ``-`` for stdin, or
   ``none`` to call the handler with a ``null`` payload. With ``--jsonl`` /
   ``BLACKLODGE_JOB_JSONL`` the file holds one JSON document per line and the
   handler is called once per line.
2. ``BASE64_ENCODED=true``: base64 JSON from ``DATA_VALUE`` / ``PARAMS_VALUE`` (PlanQK).
3. The PlanQK layout under ``BLACKLODGE_INPUT_DIR`` (default ``/var/input``):
   ``data/data.json`` or ``data.json``, with ``params/params.json`` or ``params.json``.

A document from (1) is the payload (for a ``run(data, params)`` handler it
must be ``{"data": ..., "params": ...}``, as over HTTP). With (2) and (3) a
``run(data, params)`` handler gets both; other handlers get ``data`` as the
payload and ``params`` as ``context.params``.

Output: the result goes to the output file (``BLACKLODGE_OUTPUT_FILE``,
default ``/var/output/result.json`` when ``/var/output`` is writable) and, as
PlanQK expects, to stdout as one ``PlanQK:Job:Result: <json>`` line. With
``--output -`` the result alone goes to stdout and logs move to stderr.

Exit codes: 0 success, 1 the handler failed (raised, or returned an
unserializable result / a PlanQK ErrorResponse, or its load() failed), 2 bad
input (missing or malformed input, or the handler raised ``BadInput``),
3 configuration or entry point problem, 143 stopped by SIGTERM.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO
from collections.abc import Iterator

from blacklodge_harness import logs
from blacklodge_harness.config import DEFAULT_OUTPUT_FILE, Settings
from blacklodge_harness.core import (
    Handler,
    HandlerFailed,
    HandlerReportedError,
    ResultNotSerializable,
    call_directly,
    encode_json,
    new_request_id,
)
from blacklodge_harness.entrypoint import CallStyle
from blacklodge_harness.errors import BadInput, ConfigError, EntryPointError, HarnessError, InputError

log = logging.getLogger("blacklodge.job")

EXIT_OK = 0
EXIT_HANDLER_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_SETUP = 3
EXIT_TERMINATED = 143

RESULT_MARKER = "PlanQK:Job:Result:"


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM so the handler's shutdown() still runs."""


# --------------------------------------------------------------------------- output


@dataclass(frozen=True)
class OutputTarget:
    """Where the result goes: ``file`` (path), ``stdout`` (result only), or ``none``."""

    kind: str
    path: Path | None = None

    @property
    def to_stdout(self) -> bool:
        return self.kind == "stdout"


def resolve_output(settings: Settings, cli_output: str | None = None, *, jsonl: bool = False) -> OutputTarget:
    """Decide the output target before logging starts (stdout output moves logs to stderr)."""
    explicit = cli_output if cli_output is not None else (str(settings.output_file) if settings.output_file else None)
    source = "--output" if cli_output is not None else "BLACKLODGE_OUTPUT_FILE"
    if explicit == "-":
        return OutputTarget("stdout")
    if explicit:
        path = Path(explicit)
        parent = path.parent if str(path.parent) else Path(".")
        if path.is_dir():
            raise ConfigError(
                f"Output path {path} is a directory",
                f"{source}={explicit} must name a file.",
                f"Use e.g. {path / 'result.json'}.",
            )
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(
                f"Cannot write the job result to {path}",
                f"{source}={explicit}: the directory {parent} does not exist or is not writable.",
                "Mount a writable volume there, choose another path, or use - for stdout.",
            )
        return OutputTarget("file", path)
    default = Path(DEFAULT_OUTPUT_FILE)
    if default.parent.is_dir() and os.access(default.parent, os.W_OK | os.X_OK):
        return OutputTarget("file", default)
    if jsonl or not settings.result_marker:
        # The results need a channel: with no file and no marker line, stdout is it.
        return OutputTarget("stdout")
    return OutputTarget("none")


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------- input


@dataclass
class JobInput:
    """One call's input: a whole document (file/stdin/line) or PlanQK data + params."""

    source: str
    document: Any = None
    data: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    split: bool = False  # True when data and params came separately

    def payload_for(self, style: CallStyle) -> tuple[Any, dict[str, Any]]:
        """(payload, context params) for the handler's call style."""
        if not self.split:
            return self.document, {}
        if style is CallStyle.DATA_PARAMS:
            return {"data": self.data, "params": self.params}, dict(self.params)
        return self.data, dict(self.params)


def _parse_json(text: str, where: str) -> Any:
    if not text.strip():
        raise InputError(f"{where} is empty", "The job input must be a JSON document.", f"Put valid JSON in {where}.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where} is not valid JSON",
            f"{exc.msg} at line {exc.lineno}, column {exc.colno}.",
            f"Fix the JSON in {where}.",
        ) from None


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what} {path} is not UTF-8 text", "JSON input must be UTF-8.", f"Re-encode {path} as UTF-8.") from None
    except OSError as exc:
        raise InputError(f"Cannot read {what} {path}", str(exc), f"Check that {path} exists and is readable.") from None


def _params_object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(
            f"{where} must hold a JSON object",
            f"It holds a {type(value).__name__}.",
            'Write the parameters as an object, e.g. {"shots": 100}.',
        )
    return value


def _decode_base64_json(name: str, raw: str | None, *, required: bool) -> Any:
    if raw is None or not raw.strip():
        if required:
            raise InputError(
                f"{name} is not set",
                "BASE64_ENCODED=true reads the input from DATA_VALUE (and optionally PARAMS_VALUE).",
                f"Set {name} to base64-encoded JSON, or set BASE64_ENCODED=false to read files.",
            )
        return None
    try:
        text = base64.b64decode(raw.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InputError(
            f"{name} is not valid base64-encoded UTF-8",
            "BASE64_ENCODED=true expects the variable to hold base64 of a JSON document.",
            f"Encode the JSON with e.g. 'base64 -w0 data.json' and put the output in {name}.",
        ) from None
    return _parse_json(text, name)


def read_single_input(settings: Settings, input_arg: str | None, stdin: TextIO) -> JobInput:
    """The one input of a non-batch job (see the module docstring for the order)."""
    choice = input_arg if input_arg is not None else settings.job_input
    if choice is not None:
        if choice.lower() == "none":
            return JobInput(source="none", document=None)
        if choice == "-":
            return JobInput(source="stdin", document=_parse_json(stdin.read(), "standard input"))
        path = Path(choice)
        return JobInput(source=str(path), document=_parse_json(_read_text(path, "input file"), str(path)))
    if settings.base64_encoded:
        data = _decode_base64_json("DATA_VALUE", settings.data_value, required=True)
        encoded_params = _decode_base64_json("PARAMS_VALUE", settings.params_value, required=False)
        return JobInput(source="DATA_VALUE", data=data, params=_params_object(encoded_params, "PARAMS_VALUE"), split=True)
    root = settings.input_dir
    data_paths = [root / "data" / "data.json", root / "data.json"]
    params_paths = [root / "params" / "params.json", root / "params.json"]
    data_path = next((p for p in data_paths if p.is_file()), None)
    if data_path is None:
        raise InputError(
            "No job input found",
            "Looked for " + ", ".join(str(p) for p in data_paths) + "; BASE64_ENCODED is not true and no --input was given.",
            f"Mount the input at {data_paths[0]}, pass --input FILE (or - for stdin), "
            "or set BLACKLODGE_JOB_INPUT=none to run without input.",
        )
    data = _parse_json(_read_text(data_path, "data file"), str(data_path))
    params: dict[str, Any] = {}
    params_path = next((p for p in params_paths if p.is_file()), None)
    if params_path is not None:
        text = _read_text(params_path, "params file")
        params = _params_object(_parse_json(text, str(params_path)) if text.strip() else None, str(params_path))
    return JobInput(source=str(data_path), data=data, params=params, split=True)


def _open_batch(settings: Settings, input_arg: str | None, stdin: TextIO) -> tuple[IO[str], str]:
    choice = input_arg if input_arg is not None else settings.job_input
    if choice is None or choice.lower() == "none":
        raise InputError(
            "JSON-lines input needs a file",
            "--jsonl reads one JSON document per line from --input (or BLACKLODGE_JOB_INPUT).",
            "Pass --input FILE, or --input - to read standard input.",
        )
    if choice == "-":
        return stdin, "stdin"
    try:
        return open(choice, encoding="utf-8"), choice  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise InputError(f"Cannot read input file {choice}", str(exc), f"Check that {choice} exists and is readable.") from None


# --------------------------------------------------------------------------- running


@dataclass
class JobOptions:
    input: str | None = None
    jsonl: bool = False
    output: str | None = None


class _Outcome:
    """An error object for the output plus the exit code it implies."""

    def __init__(self, code: int, error_type: str, message: str) -> None:
        self.code = code
        self.error_type = error_type
        self.message = message

    def to_dict(self, request_id: str) -> dict[str, Any]:
        return {"error": {"type": self.error_type, "message": self.message, "request_id": request_id}}


def _call_outcome(
    handler: Handler, payload: Any, params: dict[str, Any], request_id: str, metadata: dict[str, Any], settings: Settings
) -> tuple[bytes | None, Any, _Outcome | None]:
    """Call once. Returns (encoded JSON result, raw result, None) or (None, None, failure)."""
    context = handler.context(request_id, "job", metadata=metadata, params=params)
    try:
        result = call_directly(handler, payload, context)
    except BadInput as exc:
        log.error("the handler rejected the input: %s", exc.message)
        return None, None, _Outcome(EXIT_BAD_INPUT, "bad_input", exc.message)
    except HandlerReportedError as exc:
        log.error("the handler returned an error response: %s", exc)
        return None, None, _Outcome(EXIT_HANDLER_FAILED, "handler_error", f"{exc.code}: {exc.detail}")
    except HandlerFailed as exc:
        log.error("the handler raised %s", exc.type_name, exc_info=(type(exc.exc), exc.exc, exc.exc.__traceback__))
        message = (
            f"{exc.type_name}: {exc.exc}"
            if settings.error_details
            else f"the handler raised {exc.type_name}; details are in the logs under request id {request_id}"
        )
        return None, None, _Outcome(EXIT_HANDLER_FAILED, "handler_error", message)
    try:
        return encode_json(result), result, None
    except ResultNotSerializable as exc:
        log.error("the handler's result is not JSON-serializable: %s", exc)
        return None, None, _Outcome(EXIT_HANDLER_FAILED, "result_not_serializable", str(exc))


class JobRunner:
    """One run of ``blacklodge job``."""

    def __init__(self, settings: Settings, options: JobOptions, target: OutputTarget, *, stdout: TextIO, stdin: TextIO) -> None:
        self.settings = settings
        self.options = options
        self.target = target
        self.stdout = stdout
        self.stdin = stdin
        self.job_id = new_request_id()

    # -- output

    def _marker(self, body: bytes) -> None:
        if self.settings.result_marker and not self.target.to_stdout:
            self.stdout.write(f"{RESULT_MARKER} {body.decode('utf-8')}\n")
            self.stdout.flush()

    def _emit_single(self, body: bytes, raw: Any = None) -> None:
        """Write a single result (or error object) to the file / stdout, then the marker line."""
        if isinstance(raw, (bytes, bytearray, memoryview)):
            file_bytes = bytes(raw)
        elif isinstance(raw, str):
            file_bytes = raw.encode("utf-8")
        else:
            file_bytes = body
        if self.target.kind == "file" and self.target.path is not None:
            _write_atomically(self.target.path, file_bytes)
            log.info("result written to %s (%d bytes)", self.target.path, len(file_bytes))
        elif self.target.to_stdout:
            self.stdout.write(file_bytes.decode("utf-8", errors="replace") + "\n")
            self.stdout.flush()
        self._marker(body)

    def _fail(self, outcome: _Outcome, request_id: str | None = None) -> int:
        try:
            self._emit_single(json.dumps(outcome.to_dict(request_id or self.job_id)).encode("utf-8"))
        except OSError as exc:
            log.error("could not write the error output: %s", exc)
        return outcome.code

    # -- run

    def run(self) -> int:
        with logs.bind(request_id=self.job_id):
            if self.target.kind == "none":
                log.info("no output file (%s is not writable); the result is printed on stdout only", Path(DEFAULT_OUTPUT_FILE).parent)
            # Read single input before loading: a typo in the input should not cost a model load.
            single: JobInput | None = None
            if not self.options.jsonl:
                try:
                    single = read_single_input(self.settings, self.options.input, self.stdin)
                except InputError as exc:
                    log.error("%s", exc.render())
                    return self._fail(_Outcome(EXIT_BAD_INPUT, "bad_input", exc.title))
            handler = Handler(self.settings.entrypoint, self.settings.app_dir)
            try:
                handler.start()
            except EntryPointError as exc:
                log.error("%s", exc.render())
                return self._fail(_Outcome(EXIT_SETUP, exc.code, exc.title))
            except Exception as exc:  # noqa: BLE001 - the user's __init__ or load() failed
                log.error("loading the entry point failed: %s", exc, exc_info=True)
                return self._fail(_Outcome(EXIT_HANDLER_FAILED, "load_failed", f"load() raised {type(exc).__name__}"))
            try:
                if single is not None:
                    return self._run_single(handler, single)
                return self._run_batch(handler)
            finally:
                handler.shutdown()

    def _run_single(self, handler: Handler, job_input: JobInput) -> int:
        payload, params = job_input.payload_for(handler.style)
        body, raw, failure = _call_outcome(
            handler, payload, params, self.job_id, {"source": job_input.source}, self.settings
        )
        if failure is not None or body is None:
            return self._fail(failure or _Outcome(EXIT_HANDLER_FAILED, "handler_error", "no result"))
        try:
            self._emit_single(body, raw)
        except OSError as exc:
            log.error("could not write the result to %s: %s", self.target.path, exc)
            return EXIT_SETUP
        log.info("job finished")
        return EXIT_OK

    def _lines(self, stream: IO[str]) -> Iterator[tuple[int, str]]:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line

    def _run_batch(self, handler: Handler) -> int:
        try:
            stream, source = _open_batch(self.settings, self.options.input, self.stdin)
        except InputError as exc:
            log.error("%s", exc.render())
            return self._fail(_Outcome(EXIT_BAD_INPUT, "bad_input", exc.title))
        sink: IO[str]
        if self.target.kind == "file" and self.target.path is not None:
            sink = open(self.target.path, "w", encoding="utf-8")  # noqa: SIM115
        else:
            sink = self.stdout
        counts = {"lines": 0, "succeeded": 0, "failed": 0}
        worst: list[int] = []
        try:
            for number, line in self._lines(stream):
                counts["lines"] += 1
                request_id = f"{self.job_id}-{number}"
                with logs.bind(request_id=request_id, line=number):
                    record: dict[str, Any] = {"line": number}
                    try:
                        document = json.loads(line)
                    except json.JSONDecodeError as exc:
                        log.error("line %d is not valid JSON: %s", number, exc.msg)
                        outcome: _Outcome | None = _Outcome(
                            EXIT_BAD_INPUT, "invalid_json", f"{exc.msg} at column {exc.colno}"
                        )
                        body = None
                    else:
                        body, _raw, outcome = _call_outcome(
                            handler, document, {}, request_id, {"source": source, "line": number}, self.settings
                        )
                if outcome is not None or body is None:
                    outcome = outcome or _Outcome(EXIT_HANDLER_FAILED, "handler_error", "no result")
                    record.update(outcome.to_dict(request_id))
                    counts["failed"] += 1
                    worst.append(outcome.code)
                    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                else:
                    counts["succeeded"] += 1
                    sink.write(f'{{"line":{number},"result":{body.decode("utf-8")}}}\n')
                sink.flush()
        finally:
            if sink is not self.stdout:
                sink.close()
            if stream is not self.stdin:
                stream.close()
        summary: dict[str, Any] = dict(counts)
        if self.target.kind == "file":
            summary["output"] = str(self.target.path)
        log.info(
            "batch finished: %d lines, %d succeeded, %d failed", counts["lines"], counts["succeeded"], counts["failed"]
        )
        self._marker(json.dumps(summary).encode("utf-8"))
        if EXIT_HANDLER_FAILED in worst:
            return EXIT_HANDLER_FAILED
        if worst:
            return EXIT_BAD_INPUT
        return EXIT_OK


def run_job(
    settings: Settings,
    options: JobOptions,
    target: OutputTarget | None = None,
    *,
    stdout: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the job; returns the exit code. SIGTERM (main thread only) ends it with 143."""
    try:
        target = target or resolve_output(settings, options.output, jsonl=options.jsonl)
    except HarnessError as exc:
        log.error("%s", exc.render())
        return EXIT_SETUP
    runner = JobRunner(settings, options, target, stdout=stdout or sys.stdout, stdin=stdin or sys.stdin)

    def on_sigterm(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread
        previous = None
    try:
        return runner.run()
    except Terminated:
        log.warning("stopped by SIGTERM")
        return EXIT_TERMINATED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
