"""The ``blacklodge`` command: ``web``, ``job``, ``worker`` and ``validate``.

Configuration comes from ``BLACKLODGE_*`` environment variables (see
:mod:`blacklodge_harness.config`); the few flags here are for people running a
command by hand and for the build.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import os
import platform
import sys
from pathlib import Path

from blacklodge_harness import __version__
from blacklodge_harness.config import load_settings
from blacklodge_harness.errors import ConfigError, HarnessError
from blacklodge_harness.logs import setup_logging

EXIT_CONFIG = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blacklodge",
        description="Serve a Python function or class over HTTP, run it once as a job, or run it as a Kafka worker.",
        epilog="Configuration is read from BLACKLODGE_* environment variables; see the harness README.",
    )
    parser.add_argument("--version", action="version", version=f"blacklodge-harness {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    commands.add_parser("web", help="serve the handler over HTTP (gunicorn)", description="Serve POST /predict and the probes on $PORT.")

    job = commands.add_parser("job", help="call the handler once (or once per line) and exit", description="Run the handler as a one-shot job.")
    job.add_argument("--input", metavar="PATH", help="read the payload from PATH (- for stdin, none for no payload)")
    job.add_argument("--jsonl", action="store_true", default=None, help="the input holds one JSON document per line")
    job.add_argument("--output", metavar="PATH", help="write the result to PATH (- for stdout; logs then go to stderr)")

    commands.add_parser(
        "worker",
        help="consume Kafka records in a consumer group and produce the results",
        description="Call the handler for every record of $BLACKLODGE_KAFKA_TOPICS; probes and metrics on $BLACKLODGE_ADMIN_PORT.",
    )

    validate = commands.add_parser(
        "validate",
        help="check that the entry point imports and is callable (used at build time)",
        description="Import the entry point and check its signature. Exit 0 and print a JSON summary, or exit 1 with the problem.",
    )
    validate.add_argument("--entrypoint", metavar="MODULE:ATTR", help="entry point (default: $BLACKLODGE_ENTRYPOINT)")
    validate.add_argument("--app-dir", metavar="DIR", help="app directory (default: $BLACKLODGE_APP_DIR or the working directory)")
    validate.add_argument("--json", action="store_true", help="print failures as JSON on stdout too")
    validate.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up after SECONDS: print every thread's stack on stderr and exit 1 (default: no limit)",
    )
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


def _config_failure(exc: HarnessError) -> int:
    print(exc.render(), file=sys.stderr)
    return EXIT_CONFIG


def _cmd_web() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _config_failure(exc)
    setup_logging("http", log_format=settings.log_format, level=settings.log_level, capture_output=settings.capture_output)
    from blacklodge_harness.server import serve

    return serve(settings)


def _cmd_job(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _config_failure(exc)
    from blacklodge_harness.job import JobOptions, resolve_output, run_job

    jsonl = settings.job_jsonl if args.jsonl is None else args.jsonl
    options = JobOptions(input=args.input, jsonl=jsonl, output=args.output)
    try:
        target = resolve_output(settings, options.output, jsonl=jsonl)
    except HarnessError as exc:
        return _config_failure(exc)
    real_stdout = sys.stdout
    setup_logging(
        "job",
        log_format=settings.log_format,
        level=settings.log_level,
        capture_output=settings.capture_output,
        stream=sys.stderr if target.to_stdout else real_stdout,
    )
    try:
        return run_job(settings, options, target, stdout=real_stdout, stdin=sys.stdin)
    finally:
        sys.stdout.flush()  # a last print() without a newline still becomes a log line


def _cmd_worker() -> int:
    try:
        settings = load_settings(worker=True)
    except ConfigError as exc:
        return _config_failure(exc)
    try:
        import confluent_kafka  # noqa: F401 - checked before logging starts, for a plain message
    except ImportError as exc:
        return _config_failure(
            ConfigError(
                "The Kafka client is not installed",
                f"blacklodge worker needs confluent-kafka, the harness's 'kafka' extra ({exc}).",
                'Enable the worker mode in the build config (modes = [..., "worker"]) so the wrapper buildpack installs it, '
                "or install blacklodge-harness[kafka].",
                code="kafka_client_missing",
            )
        )
    setup_logging("kafka", log_format=settings.log_format, level=settings.log_level, capture_output=settings.capture_output)
    from blacklodge_harness.kafka import run_worker

    return run_worker(settings)


def _cmd_validate(args: argparse.Namespace) -> int:
    from blacklodge_harness.entrypoint import resolve

    spec = args.entrypoint or os.environ.get("BLACKLODGE_ENTRYPOINT", "")
    app_dir = Path(args.app_dir or os.environ.get("BLACKLODGE_APP_DIR") or os.getcwd())
    # Whatever the user's module prints or logs while importing must not
    # corrupt the JSON on stdout.
    setup = setup_logging("validate", log_format="text", level="warning", capture_output=False, stream=sys.stderr)
    if args.timeout is not None:
        # A C-level watchdog thread: it dumps the stacks and exits even when the import holds
        # the GIL (a busy loop in an extension), which a Python timer could not.
        faulthandler.dump_traceback_later(args.timeout, exit=True, file=sys.stderr)
    try:
        if not spec.strip():
            raise ConfigError(
                "No entry point given",
                "validate needs the entry point as --entrypoint MODULE:ATTR or in BLACKLODGE_ENTRYPOINT.",
                "Pass --entrypoint, e.g. --entrypoint model:predict.",
                code="entrypoint_missing",
            )
        with contextlib.redirect_stdout(sys.stderr):
            entry = resolve(spec, app_dir)
    except HarnessError as exc:
        print(exc.render(), file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "error": exc.to_dict()}))
        return 1
    finally:
        if args.timeout is not None:
            faulthandler.cancel_dump_traceback_later()
        setup.restore()
    summary = entry.summary()
    summary["harness_version"] = __version__
    summary["python_version"] = platform.python_version()
    print(json.dumps(summary, indent=None if args.json else 2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "web":
        return _cmd_web()
    if args.command == "job":
        return _cmd_job(args)
    if args.command == "worker":
        return _cmd_worker()
    if args.command == "validate":
        return _cmd_validate(args)
    raise AssertionError(args.command)  # argparse rejects unknown commands

