"""Runtime configuration: every ``BLACKLODGE_*`` variable, parsed and validated at start.

The table :data:`VARIABLES` is the single source of truth: name, default, what
is accepted, and what it does. :func:`load_settings` reads the environment
once, checks every ``BLACKLODGE_*`` variable against the table (an unknown name
is an error, with the closest known name suggested), parses each value, and
reports *all* problems in one :class:`~blacklodge_harness.errors.ConfigError`
so a misconfigured container fails on its first start, not on its first request.

Besides the prefix, three foreign names are read because other tools set them:
``PORT`` (the platform's port), the PlanQK job variables ``BASE64_ENCODED`` /
``DATA_VALUE`` / ``PARAMS_VALUE``, and common CI variables as a fallback for the
source revision.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Mapping

from blacklodge_harness.errors import ConfigError

PREFIX = "BLACKLODGE_"

#: Variables CI systems and platforms set to the commit being deployed, in the
#: order they are consulted when ``BLACKLODGE_REVISION`` is not set.
REVISION_FALLBACKS: tuple[str, ...] = (
    "SOURCE_COMMIT",
    "SOURCE_VERSION",
    "GIT_COMMIT",
    "GIT_SHA",
    "GITHUB_SHA",
    "CI_COMMIT_SHA",
    "COMMIT_SHA",
)

DEFAULT_OUTPUT_FILE = "/var/output/result.json"
DEFAULT_INPUT_DIR = "/var/input"

_ENTRYPOINT_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class _Invalid(ValueError):
    """A value was read but does not parse; the message says what is accepted."""


# --------------------------------------------------------------------------- parsers
# Each parser takes the raw string and returns the parsed value or raises
# _Invalid(accepted) where ``accepted`` completes "expected ...".


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise _Invalid(f"a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise _Invalid(f"a whole number from {low} to {high}")
        return value

    return parse


def _seconds(low: float, high: float, *, zero_disables: bool = False) -> Callable[[str], float]:
    accepted = f"a number of seconds from {low:g} to {high:g}"
    if zero_disables:
        accepted += " (0 disables it)"

    def parse(raw: str) -> float:
        text = raw.strip().lower()
        if text.endswith("s"):
            text = text[:-1]
        try:
            value = float(text)
        except ValueError:
            raise _Invalid(accepted) from None
        if value != value or not low <= value <= high:  # NaN or out of range
            raise _Invalid(accepted)
        return value

    return parse


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise _Invalid("one of " + ", ".join(choices))
        return value

    return parse


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _Invalid("true or false (also accepted: 1/0, yes/no, on/off)")


def parse_size(raw: str) -> int:
    """``10485760``, ``10MiB``, ``512KiB``, ``1MB``, ``2g`` -> bytes (at least 1)."""
    accepted = "a size in bytes, optionally with a unit: B, KB, MB, GB, KiB, MiB, GiB (e.g. 10MiB)"
    match = _SIZE_RE.match(raw)
    if not match:
        raise _Invalid(accepted)
    number, unit = match.groups()
    multiplier = _SIZE_UNITS.get(unit.lower())
    if multiplier is None:
        raise _Invalid(accepted)
    value = int(float(number) * multiplier)
    if value < 1:
        raise _Invalid(accepted)
    return value


def _entrypoint(raw: str) -> str:
    value = raw.strip()
    if _ENTRYPOINT_RE.match(value):
        return value
    hint = suggest_entrypoint(value)
    accepted = "'module:attribute', e.g. 'model:predict' or 'mypkg.serving:Model'"
    if hint and hint != value:
        accepted += f"; did you mean '{hint}'?"
    raise _Invalid(accepted)


def _optional_app_setup(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if _ENTRYPOINT_RE.match(value):
        return value
    raise _Invalid("'module:function', e.g. 'routes:setup' for def setup(app) in routes.py")


def suggest_entrypoint(value: str) -> str | None:
    """Best guess at what a malformed entry point meant (``src/model.py:predict`` -> ``src.model:predict``)."""
    text = value.strip().replace("/", ".").replace("\\", ".")
    if ":" in text:
        module, _, attr = text.partition(":")
    elif "." in text:
        module, _, attr = text.rpartition(".")
        if attr == "py":  # a file name alone names no attribute
            return None
    else:
        return None
    if module.endswith(".py"):
        module = module[: -len(".py")]
    module = module.strip().strip(".")
    attr = attr.strip().rstrip("()").strip()
    candidate = f"{module}:{attr}"
    return candidate if _ENTRYPOINT_RE.match(candidate) else None


def _directory(raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise _Invalid("an existing directory")
    return path.resolve()


def _path(raw: str) -> Path:
    if not raw.strip():
        raise _Invalid("a file path")
    return Path(raw).expanduser()


def _cors_origins(raw: str) -> tuple[str, ...]:
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins:
        if origin == "*":
            continue
        if not re.match(r"^https?://[^\s/]+$", origin):
            raise _Invalid("a comma-separated list of origins such as https://app.example.com, or *")
    return origins


def _text(max_len: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value or len(value) > max_len or any(ord(ch) < 32 for ch in value):
            raise _Invalid(f"non-empty printable text of at most {max_len} characters")
        return value

    return parse


def _host(raw: str) -> str:
    value = raw.strip().strip("[]")
    if not value or not re.match(r"^[A-Za-z0-9.:_-]+$", value):
        raise _Invalid("an IP address or host name to bind to, e.g. 0.0.0.0, 127.0.0.1 or ::")
    return value


_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_TOPIC_RULE = "1 to 249 characters of A-Z a-z 0-9 . _ -, not '.' or '..'"
_HOST_PORT_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")


def _is_topic(name: str) -> bool:
    return bool(_TOPIC_RE.match(name)) and name not in (".", "..")


def _topic(raw: str) -> str:
    value = raw.strip()
    if not _is_topic(value):
        raise _Invalid(f"a Kafka topic name: {_TOPIC_RULE}")
    return value


def _topics(raw: str) -> tuple[str, ...]:
    names = [part.strip() for part in raw.split(",")]
    accepted = f"a comma-separated list of Kafka topic names, each {_TOPIC_RULE}"
    if not names or not all(_is_topic(name) for name in names):
        raise _Invalid(accepted)
    if len(set(names)) != len(names):
        raise _Invalid(accepted + ", each listed once")
    return tuple(names)


def _bootstrap(raw: str) -> str:
    servers = [part.strip() for part in raw.split(",")]
    for server in servers:
        match = _HOST_PORT_RE.match(server)
        if not match or not 1 <= int(match.group(2)) <= 65535:
            raise _Invalid("a comma-separated list of host:port, e.g. kafka-0.kafka:9092,kafka-1.kafka:9092")
    return ",".join(servers)


def _sasl_mechanism(raw: str) -> str:
    value = raw.strip().upper()
    if value not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        raise _Invalid("one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
    return value


def _secret(raw: str) -> str:
    if not raw.strip():
        raise _Invalid("a non-empty value")
    return raw


def _secret_file(raw: str) -> str:
    path = Path(raw.strip()).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise _Invalid("a readable UTF-8 file holding the secret") from None
    value = text[:-1] if text.endswith("\n") else text
    value = value[:-1] if value.endswith("\r") else value
    if not value:
        raise _Invalid("a file holding the secret (this one is empty)")
    return value


def _readable_file(raw: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise _Invalid("a readable file")
    return path


def _job_input(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise _Invalid("a file path, - for standard input, or none")
    return value


_lifetime_seconds = _seconds(0, 31_536_000, zero_disables=True)


def _worker_lifetime(raw: str) -> float:
    value = _lifetime_seconds(raw)
    if 0 < value < 60:
        raise _Invalid("0 (never), or a number of seconds from 60 to 31536000 (the server replaces workers no more often)")
    return value


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Variable:
    """One documented environment variable."""

    name: str
    default: str | None
    parse: Callable[[str], object]
    description: str
    field: str
    #: The value is a credential: never shown in messages or logs.
    secret: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable("BLACKLODGE_ENTRYPOINT", None, _entrypoint, "The handler to serve, as 'module:attribute' (required).", "entrypoint"),
    Variable("BLACKLODGE_APP_DIR", None, _directory, "Directory put first on sys.path (default: the working directory).", "app_dir"),
    Variable("PORT", "8080", _int_range(1, 65535), "TCP port of the HTTP server.", "port"),
    Variable("BLACKLODGE_HOST", "0.0.0.0", _host, "Address the HTTP server binds to.", "host"),
    Variable("BLACKLODGE_WORKERS", "2", _int_range(1, 64), "Worker processes (each loads its own copy of the handler).", "workers"),
    Variable("BLACKLODGE_THREADS", "4", _int_range(1, 256), "Request threads per worker process.", "threads"),
    Variable("BLACKLODGE_TIMEOUT", "60", _seconds(0, 86400, zero_disables=True), "Seconds a handler call may take: HTTP answers 504, the Kafka worker counts a failed attempt.", "timeout"),
    Variable("BLACKLODGE_MAX_BODY_SIZE", "10MiB", parse_size, "Largest accepted request body; larger bodies get 413.", "max_body_size"),
    Variable("BLACKLODGE_GRACE_PERIOD", "25", _seconds(0, 3600), "Seconds in-flight requests (worker: in-flight messages, flush and commit) may take after SIGTERM.", "grace_period"),
    Variable("BLACKLODGE_DRAIN_DELAY", "0", _seconds(0, 600), "Seconds to keep accepting requests after SIGTERM while /readyz reports 503.", "drain_delay"),
    Variable("BLACKLODGE_KEEPALIVE", "5", _seconds(0, 600), "Seconds an idle keep-alive connection stays open.", "keepalive"),
    Variable("BLACKLODGE_WORKER_LIFETIME", "0", _worker_lifetime, "Seconds after which a worker process is replaced by a fresh one, gracefully (0: never).", "worker_lifetime"),
    Variable("BLACKLODGE_APP_SETUP", "", _optional_app_setup, "A function 'module:function' called with the Flask app once per worker, to add your own routes, blueprints and hooks.", "app_setup"),
    Variable("BLACKLODGE_CORS_ORIGINS", "", _cors_origins, "Comma-separated origins allowed by CORS, or *; empty turns CORS off.", "cors_origins"),
    Variable("BLACKLODGE_RAW_BODY", "true", parse_bool, "Pass non-JSON request bodies to the handler as bytes (false: answer 415).", "raw_body"),
    Variable("BLACKLODGE_ERROR_DETAILS", "false", parse_bool, "Include the exception message of a failed handler in error responses.", "error_details"),
    Variable("BLACKLODGE_ACCESS_LOG", "true", parse_bool, "Log one line per HTTP request (probes and /metrics at debug level).", "access_log"),
    Variable("BLACKLODGE_LOG_FORMAT", "json", _choice("json", "text"), "Log line format.", "log_format"),
    Variable("BLACKLODGE_LOG_LEVEL", "info", _choice("debug", "info", "warning", "error", "critical"), "Lowest level logged.", "log_level"),
    Variable("BLACKLODGE_CAPTURE_OUTPUT", "true", parse_bool, "Turn print() output and stray stderr writes into log lines.", "capture_output"),
    Variable("BLACKLODGE_APP_NAME", None, _text(200), "Application name reported by /statz and metrics (default: the entry point's module).", "app_name"),
    Variable("BLACKLODGE_APP_VERSION", None, _text(200), "Application version reported by /statz and metrics.", "app_version"),
    Variable("BLACKLODGE_REVISION", None, _text(200), "Source revision reported by /statz (default: SOURCE_COMMIT, GIT_COMMIT, ... if set).", "revision"),
    Variable("BLACKLODGE_INPUT_DIR", DEFAULT_INPUT_DIR, _path, "Job mode: root of the PlanQK input layout.", "input_dir"),
    Variable("BLACKLODGE_JOB_INPUT", None, _job_input, "Job mode: read the payload from this file (- for stdin, none for no payload).", "job_input"),
    Variable("BLACKLODGE_JOB_JSONL", "false", parse_bool, "Job mode: the input is JSON lines, one handler call per line.", "job_jsonl"),
    Variable("BLACKLODGE_OUTPUT_FILE", None, _path, f"Job mode: where the result is written (default {DEFAULT_OUTPUT_FILE} if /var/output is writable; - for stdout).", "output_file"),
    Variable("BLACKLODGE_RESULT_MARKER", "true", parse_bool, "Job mode: print the 'PlanQK:Job:Result: {...}' line on stdout.", "result_marker"),
    Variable("BASE64_ENCODED", "false", parse_bool, "Job mode (PlanQK): read base64-encoded JSON from DATA_VALUE / PARAMS_VALUE.", "base64_encoded"),
    Variable("BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS", None, _bootstrap, "Worker: the Kafka brokers, host:port[,host:port...] (required).", "kafka_bootstrap_servers"),
    Variable("BLACKLODGE_KAFKA_TOPICS", None, _topics, "Worker: comma-separated input topics (required; the build config's [kafka] topics set the default).", "kafka_topics"),
    Variable("BLACKLODGE_KAFKA_GROUP_ID", None, _text(249), "Worker: consumer group (default: the app name).", "kafka_group_id"),
    Variable("BLACKLODGE_KAFKA_OUTPUT_TOPIC", None, _topic, "Worker: topic the results go to (default: none, consume only).", "kafka_output_topic"),
    Variable("BLACKLODGE_KAFKA_DLQ_TOPIC", None, _topic, "Worker: dead-letter topic (default: none, a failing message stops the worker).", "kafka_dlq_topic"),
    Variable("BLACKLODGE_KAFKA_VALUE_FORMAT", "json", _choice("json", "bytes"), "Worker: decode record values as JSON, or pass the bytes.", "kafka_value_format"),
    Variable("BLACKLODGE_KAFKA_AUTO_OFFSET_RESET", "earliest", _choice("earliest", "latest"), "Worker: where a group without committed offsets starts.", "kafka_auto_offset_reset"),
    Variable("BLACKLODGE_KAFKA_MAX_RETRIES", "3", _int_range(0, 100), "Worker: handler retries of a failing message before it is dead-lettered.", "kafka_max_retries"),
    Variable("BLACKLODGE_KAFKA_RETRY_BACKOFF", "0.5", _seconds(0, 600), "Worker: wait before the first retry; doubled for each further one, at most 30 s.", "kafka_retry_backoff"),
    Variable("BLACKLODGE_KAFKA_CONCURRENCY", "4", _int_range(1, 64), "Worker: partitions processed at once (order is kept within a partition).", "kafka_concurrency"),
    Variable("BLACKLODGE_KAFKA_COMMIT_INTERVAL", "1", _seconds(0.01, 60), "Worker: seconds between batched offset commits.", "kafka_commit_interval"),
    Variable("BLACKLODGE_KAFKA_SESSION_TIMEOUT", "45", _seconds(1, 3600), "Worker: consumer group session timeout; a worker that stops heartbeating loses its partitions after it.", "kafka_session_timeout"),
    Variable("BLACKLODGE_KAFKA_SECURITY_PROTOCOL", "plaintext", _choice("plaintext", "ssl", "sasl_plaintext", "sasl_ssl"), "Worker: how to talk to the brokers.", "kafka_security_protocol"),
    Variable("BLACKLODGE_KAFKA_SASL_MECHANISM", None, _sasl_mechanism, "Worker: SASL mechanism (with a sasl_* protocol).", "kafka_sasl_mechanism"),
    Variable("BLACKLODGE_KAFKA_SASL_USERNAME", None, _text(1000), "Worker: SASL user name.", "kafka_sasl_username"),
    Variable("BLACKLODGE_KAFKA_SASL_PASSWORD", None, _secret, "Worker: SASL password (prefer the _FILE variable).", "kafka_sasl_password", secret=True),
    Variable("BLACKLODGE_KAFKA_SASL_PASSWORD_FILE", None, _secret_file, "Worker: file holding the SASL password.", "kafka_sasl_password_file", secret=True),
    Variable("BLACKLODGE_KAFKA_SSL_CA_LOCATION", None, _readable_file, "Worker: CA certificate(s) to verify the brokers, PEM (default: the system's).", "kafka_ssl_ca_location"),
    Variable("BLACKLODGE_KAFKA_SSL_CERTIFICATE_LOCATION", None, _readable_file, "Worker: client certificate, PEM (mutual TLS).", "kafka_ssl_certificate_location"),
    Variable("BLACKLODGE_KAFKA_SSL_KEY_LOCATION", None, _readable_file, "Worker: client private key, PEM (mutual TLS).", "kafka_ssl_key_location"),
    Variable("BLACKLODGE_KAFKA_SSL_KEY_PASSWORD", None, _secret, "Worker: password of the client key (prefer the _FILE variable).", "kafka_ssl_key_password", secret=True),
    Variable("BLACKLODGE_KAFKA_SSL_KEY_PASSWORD_FILE", None, _secret_file, "Worker: file holding the client key's password.", "kafka_ssl_key_password_file", secret=True),
    Variable("BLACKLODGE_ADMIN_PORT", None, _int_range(1, 65535), "Worker: port of the admin HTTP server (probes, metrics; default: PORT, else 8080).", "admin_port"),
)

#: Secrets that may come from the variable itself or from a file: (variable, file variable, field).
_SECRET_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("BLACKLODGE_KAFKA_SASL_PASSWORD", "BLACKLODGE_KAFKA_SASL_PASSWORD_FILE", "kafka_sasl_password"),
    ("BLACKLODGE_KAFKA_SSL_KEY_PASSWORD", "BLACKLODGE_KAFKA_SSL_KEY_PASSWORD_FILE", "kafka_ssl_key_password"),
)

_BY_NAME: dict[str, Variable] = {var.name: var for var in VARIABLES}
KNOWN_NAMES: tuple[str, ...] = tuple(name for name in _BY_NAME if name.startswith(PREFIX))


@dataclass(frozen=True)
class Settings:
    """Parsed configuration; build it with :func:`load_settings`."""

    entrypoint: str
    app_dir: Path
    port: int = 8080
    host: str = "0.0.0.0"
    workers: int = 2
    threads: int = 4
    timeout: float = 60.0
    max_body_size: int = 10 * 1024 * 1024
    grace_period: float = 25.0
    drain_delay: float = 0.0
    keepalive: float = 5.0
    worker_lifetime: float = 0.0
    app_setup: str | None = None
    cors_origins: tuple[str, ...] = ()
    raw_body: bool = True
    error_details: bool = False
    access_log: bool = True
    log_format: str = "json"
    log_level: str = "info"
    capture_output: bool = True
    app_name: str = ""
    app_version: str | None = None
    revision: str | None = None
    input_dir: Path = Path(DEFAULT_INPUT_DIR)
    job_input: str | None = None
    job_jsonl: bool = False
    output_file: Path | None = None
    result_marker: bool = True
    base64_encoded: bool = False
    kafka_bootstrap_servers: str | None = None
    kafka_topics: tuple[str, ...] = ()
    #: The consumer group (load_settings fills in the app name when it is not set).
    kafka_group_id: str = ""
    kafka_output_topic: str | None = None
    kafka_dlq_topic: str | None = None
    kafka_value_format: str = "json"
    kafka_auto_offset_reset: str = "earliest"
    kafka_max_retries: int = 3
    kafka_retry_backoff: float = 0.5
    kafka_concurrency: int = 4
    kafka_commit_interval: float = 1.0
    kafka_session_timeout: float = 45.0
    kafka_security_protocol: str = "plaintext"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = field(default=None, repr=False)
    kafka_ssl_ca_location: Path | None = None
    kafka_ssl_certificate_location: Path | None = None
    kafka_ssl_key_location: Path | None = None
    kafka_ssl_key_password: str | None = field(default=None, repr=False)
    #: The worker's admin HTTP port (load_settings fills in PORT when it is not set).
    admin_port: int = 8080
    #: PlanQK's raw DATA_VALUE / PARAMS_VALUE (only read when base64_encoded).
    data_value: str | None = field(default=None, repr=False)
    params_value: str | None = field(default=None, repr=False)

    @property
    def entry_module(self) -> str:
        return self.entrypoint.partition(":")[0]


def _describe_value(raw: str) -> str:
    shown = raw if len(raw) <= 80 else raw[:77] + "..."
    return repr(shown)


def load_settings(
    environ: Mapping[str, str] | None = None, *, require_entrypoint: bool = True, worker: bool = False
) -> Settings:
    """Read and validate the configuration from ``environ`` (default: ``os.environ``).

    ``worker`` adds the Kafka worker's requirements (brokers and topics must be set).
    Raises :class:`ConfigError` listing every unknown or malformed variable.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    problems: list[str] = []
    values: dict[str, object] = {}

    for name in sorted(env):
        if name.startswith(PREFIX) and name not in _BY_NAME:
            close = difflib.get_close_matches(name, KNOWN_NAMES, n=1, cutoff=0.75)
            hint = f" Did you mean {close[0]}?" if close else ""
            problems.append(f"{name} is not a setting of the harness.{hint}")

    for var in VARIABLES:
        raw = env.get(var.name)
        if raw is None or (raw.strip() == "" and var.default is not None):
            raw = var.default
        if raw is None or (raw.strip() == "" and var.name != "BLACKLODGE_CORS_ORIGINS"):
            continue
        try:
            values[var.field] = var.parse(raw)
        except _Invalid as invalid:
            shown = "" if var.secret and not var.name.endswith("_FILE") else f"={_describe_value(raw)}"
            problems.append(f"{var.name}{shown} is invalid: expected {invalid}.")

    if "entrypoint" not in values and require_entrypoint and not any(
        p.startswith("BLACKLODGE_ENTRYPOINT=") for p in problems
    ):
        problems.append(
            "BLACKLODGE_ENTRYPOINT is not set: expected 'module:attribute', e.g. 'model:predict'."
        )

    grace = values.get("grace_period", 25.0)
    drain = values.get("drain_delay", 0.0)
    if isinstance(grace, float) and isinstance(drain, float) and drain > 0 and drain >= grace:
        problems.append(
            f"BLACKLODGE_DRAIN_DELAY={drain:g} must be shorter than BLACKLODGE_GRACE_PERIOD={grace:g}: "
            "the grace period covers the drain delay and the in-flight requests."
        )

    problems.extend(_kafka_problems(env, values, worker=worker))

    if problems:
        raise ConfigError(
            "Invalid harness configuration" if len(problems) == 1 else f"{len(problems)} problems in the harness configuration",
            "\n".join(f"- {p}" for p in problems),
            "Fix or remove the variables above. Every BLACKLODGE_* variable, its default and "
            "accepted values are listed in the harness README (Configuration).",
        )

    if "app_dir" not in values:
        values["app_dir"] = Path.cwd().resolve()
    entrypoint = str(values.get("entrypoint", ""))
    if "app_name" not in values:
        values["app_name"] = entrypoint.partition(":")[0] or "app"
    if "revision" not in values:
        for name in REVISION_FALLBACKS:
            candidate = env.get(name, "").strip()
            if candidate:
                values["revision"] = candidate[:200]
                break
    values.setdefault("entrypoint", entrypoint)
    if "kafka_group_id" not in values:
        values["kafka_group_id"] = values["app_name"]
    if "admin_port" not in values:
        values["admin_port"] = values.get("port", 8080)
    for _, _file_variable, name in _SECRET_PAIRS:
        from_file = values.pop(f"{name}_file", None)
        if from_file is not None:
            values[name] = from_file
    if values.get("base64_encoded"):
        values["data_value"] = env.get("DATA_VALUE")
        values["params_value"] = env.get("PARAMS_VALUE")
    return Settings(**values)  # type: ignore[arg-type] # each value has its field's type: VARIABLES pairs every field with its parser


def _kafka_problems(env: Mapping[str, str], values: Mapping[str, object], *, worker: bool) -> list[str]:
    """Settings of the worker that are wrong together (each value parsed on its own)."""

    def is_set(name: str) -> bool:
        return bool(env.get(name, "").strip())

    problems: list[str] = []
    if worker and not is_set("BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS"):
        problems.append(
            "BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS is not set: expected the Kafka brokers as host:port[,host:port...], "
            "e.g. kafka-0.kafka:9092."
        )
    if worker and not is_set("BLACKLODGE_KAFKA_TOPICS"):
        problems.append(
            "BLACKLODGE_KAFKA_TOPICS is not set: expected the input topics, comma-separated "
            "(set them in the build config's [kafka] table as topics = [...], or in the container's environment)."
        )
    topics = values.get("kafka_topics") or ()
    assert isinstance(topics, tuple)
    for name, what in (("output", "its own results"), ("dlq", "its own dead letters")):
        topic = values.get(f"kafka_{name}_topic")
        if topic is not None and topic in topics:
            problems.append(
                f"BLACKLODGE_KAFKA_{name.upper()}_TOPIC={topic!r} is also an input topic (BLACKLODGE_KAFKA_TOPICS): "
                f"the worker would consume {what} again, forever."
            )
    for variable, file_variable, _ in _SECRET_PAIRS:
        if is_set(variable) and is_set(file_variable):
            problems.append(f"{variable} and {file_variable} are both set: set only one of them (the file is preferred).")

    protocol = str(values.get("kafka_security_protocol", "plaintext"))
    where = f"BLACKLODGE_KAFKA_SECURITY_PROTOCOL={protocol}"
    sasl = [v for v in ("BLACKLODGE_KAFKA_SASL_MECHANISM", "BLACKLODGE_KAFKA_SASL_USERNAME", "BLACKLODGE_KAFKA_SASL_PASSWORD", "BLACKLODGE_KAFKA_SASL_PASSWORD_FILE") if is_set(v)]
    ssl = [v for v in ("BLACKLODGE_KAFKA_SSL_CA_LOCATION", "BLACKLODGE_KAFKA_SSL_CERTIFICATE_LOCATION", "BLACKLODGE_KAFKA_SSL_KEY_LOCATION", "BLACKLODGE_KAFKA_SSL_KEY_PASSWORD", "BLACKLODGE_KAFKA_SSL_KEY_PASSWORD_FILE") if is_set(v)]
    if protocol.startswith("sasl_"):
        missing = [
            v
            for v, ok in (
                ("BLACKLODGE_KAFKA_SASL_MECHANISM", is_set("BLACKLODGE_KAFKA_SASL_MECHANISM")),
                ("BLACKLODGE_KAFKA_SASL_USERNAME", is_set("BLACKLODGE_KAFKA_SASL_USERNAME")),
                ("BLACKLODGE_KAFKA_SASL_PASSWORD (or _FILE)", is_set("BLACKLODGE_KAFKA_SASL_PASSWORD") or is_set("BLACKLODGE_KAFKA_SASL_PASSWORD_FILE")),
            )
            if not ok
        ]
        if missing:
            problems.append(f"{where} needs {', '.join(missing)}: the mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512), user name and password.")
    elif sasl:
        problems.append(f"{', '.join(sasl)} {'is' if len(sasl) == 1 else 'are'} set but {where} does not use SASL: set it to sasl_ssl (or sasl_plaintext).")
    if ssl and not protocol.endswith("ssl"):
        problems.append(f"{', '.join(ssl)} {'is' if len(ssl) == 1 else 'are'} set but {where} does not use TLS: set it to ssl (or sasl_ssl).")
    if is_set("BLACKLODGE_KAFKA_SSL_CERTIFICATE_LOCATION") != is_set("BLACKLODGE_KAFKA_SSL_KEY_LOCATION"):
        problems.append(
            "BLACKLODGE_KAFKA_SSL_CERTIFICATE_LOCATION and BLACKLODGE_KAFKA_SSL_KEY_LOCATION go together: "
            "mutual TLS needs the client certificate and its key."
        )
    return problems


def variables_table() -> list[tuple[str, str, str]]:
    """(name, default, description) rows, for ``blacklodge --help-env`` and docs."""
    return [(var.name, var.default if var.default is not None else "", var.description) for var in VARIABLES]
