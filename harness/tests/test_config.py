from __future__ import annotations

from pathlib import Path

import pytest

from blacklodge_harness.config import load_settings, parse_size, suggest_entrypoint
from blacklodge_harness.errors import ConfigError

from conftest import APPS

BASE = {"BLACKLODGE_ENTRYPOINT": "model:predict", "BLACKLODGE_APP_DIR": str(APPS)}


def problems(env: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings({**BASE, **env})
    return info.value.render()


def test_defaults_fit_a_two_core_container() -> None:
    settings = load_settings(BASE)
    assert settings.port == 8080
    assert settings.host == "0.0.0.0"
    assert (settings.workers, settings.threads) == (2, 4)
    assert settings.timeout == 60
    assert settings.max_body_size == 10 * 1024 * 1024
    assert settings.grace_period == 25
    assert settings.cors_origins == ()
    assert settings.log_format == "json"
    assert settings.error_details is False
    assert settings.app_name == "model"
    assert settings.revision is None
    assert settings.app_dir == APPS.resolve()


def test_app_dir_defaults_to_working_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"BLACKLODGE_ENTRYPOINT": "m:f"})
    assert settings.app_dir == tmp_path.resolve()


def test_values_are_parsed() -> None:
    settings = load_settings(
        {
            **BASE,
            "PORT": "9000",
            "BLACKLODGE_WORKERS": "1",
            "BLACKLODGE_THREADS": "16",
            "BLACKLODGE_TIMEOUT": "2.5s",
            "BLACKLODGE_MAX_BODY_SIZE": "512KiB",
            "BLACKLODGE_CORS_ORIGINS": "https://a.example.com, https://b.example.com/",
            "BLACKLODGE_LOG_FORMAT": "TEXT",
            "BLACKLODGE_ERROR_DETAILS": "yes",
            "BLACKLODGE_APP_VERSION": "1.2.3",
        }
    )
    assert settings.port == 9000
    assert (settings.workers, settings.threads) == (1, 16)
    assert settings.timeout == 2.5
    assert settings.max_body_size == 512 * 1024
    assert settings.cors_origins == ("https://a.example.com", "https://b.example.com")
    assert settings.log_format == "text"
    assert settings.error_details is True
    assert settings.app_version == "1.2.3"


def test_malformed_value_names_variable_value_and_what_is_accepted() -> None:
    message = problems({"BLACKLODGE_WORKERS": "abc"})
    assert "BLACKLODGE_WORKERS='abc' is invalid: expected a whole number from 1 to 64" in message
    assert "fix:" in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PORT", "99999", "a whole number from 1 to 65535"),
        ("BLACKLODGE_TIMEOUT", "soon", "a number of seconds from 0 to 86400 (0 disables it)"),
        ("BLACKLODGE_MAX_BODY_SIZE", "10 parsecs", "a size in bytes"),
        ("BLACKLODGE_LOG_FORMAT", "xml", "one of json, text"),
        ("BLACKLODGE_LOG_LEVEL", "loud", "one of debug, info, warning, error, critical"),
        ("BLACKLODGE_ERROR_DETAILS", "maybe", "true or false"),
        ("BLACKLODGE_CORS_ORIGINS", "example.com", "a comma-separated list of origins"),
        ("BLACKLODGE_APP_DIR", "/does/not/exist", "an existing directory"),
        ("BASE64_ENCODED", "sure", "true or false"),
    ],
)
def test_each_malformed_value_is_reported(name: str, value: str, expected: str) -> None:
    message = problems({name: value})
    assert f"{name}='{value}' is invalid" in message
    assert expected in message


def test_unknown_variable_is_an_error_with_suggestion() -> None:
    message = problems({"BLACKLODGE_WORKER": "2"})
    assert "BLACKLODGE_WORKER is not a setting of the harness. Did you mean BLACKLODGE_WORKERS?" in message


def test_unknown_variable_value_is_not_echoed() -> None:
    message = problems({"BLACKLODGE_SECRET_TOKEN": "s3cr3t"})
    assert "BLACKLODGE_SECRET_TOKEN" in message
    assert "s3cr3t" not in message


def test_all_problems_are_reported_together() -> None:
    message = problems({"BLACKLODGE_WORKERS": "0", "BLACKLODGE_THREADS": "x", "BLACKLODGE_NOPE": "1"})
    assert "3 problems" in message
    assert "BLACKLODGE_WORKERS" in message and "BLACKLODGE_THREADS" in message and "BLACKLODGE_NOPE" in message


def test_entrypoint_is_required() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({})
    assert "BLACKLODGE_ENTRYPOINT is not set" in info.value.render()


def test_malformed_entrypoint_gets_a_suggestion() -> None:
    message = problems({"BLACKLODGE_ENTRYPOINT": "src/model.py:predict"})
    assert "did you mean 'src.model:predict'?" in message


def test_drain_delay_must_fit_in_grace_period() -> None:
    message = problems({"BLACKLODGE_DRAIN_DELAY": "30", "BLACKLODGE_GRACE_PERIOD": "10"})
    assert "BLACKLODGE_DRAIN_DELAY=30 must be shorter than BLACKLODGE_GRACE_PERIOD=10" in message


def test_revision_falls_back_to_ci_variables() -> None:
    assert load_settings({**BASE, "GIT_COMMIT": "abc123"}).revision == "abc123"
    assert load_settings({**BASE, "SOURCE_COMMIT": "def456", "GIT_COMMIT": "abc123"}).revision == "def456"
    assert load_settings({**BASE, "BLACKLODGE_REVISION": "r1", "GIT_COMMIT": "abc"}).revision == "r1"


def test_empty_value_means_default() -> None:
    assert load_settings({**BASE, "BLACKLODGE_WORKERS": ""}).workers == 2


@pytest.mark.parametrize(
    ("raw", "expected"), [("100", 100), ("1KB", 1000), ("1kib", 1024), ("10MiB", 10485760), ("1.5 MB", 1500000)]
)
def test_parse_size(raw: str, expected: int) -> None:
    assert parse_size(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("model.predict", "model:predict"), ("model.py:predict", "model:predict"), ("a/b.py:run()", "a.b:run"), ("model.py", None)],
)
def test_suggest_entrypoint(raw: str, expected: str) -> None:
    assert suggest_entrypoint(raw) == expected
