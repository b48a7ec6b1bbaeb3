"""Shared fixtures: the fixture app directory, settings from a fake environment,
and isolation of sys.path / sys.modules between tests (the harness imports
user modules by name)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterator

import pytest

from blacklodge_harness.config import Settings, load_settings

APPS = Path(__file__).parent / "fixtures" / "apps"


@pytest.fixture(autouse=True)
def isolate_imports() -> Iterator[None]:
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    yield
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None) or ""
        if file.startswith(str(APPS)):
            del sys.modules[name]


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Settings]:
    """settings_for("funcs:echo", BLACKLODGE_TIMEOUT="1") -> Settings for the fixture apps."""

    def make(entrypoint: str, **env: str) -> Settings:
        environ: Dict[str, str] = {
            "BLACKLODGE_ENTRYPOINT": entrypoint,
            "BLACKLODGE_APP_DIR": str(APPS),
            "BLACKLODGE_INPUT_DIR": str(tmp_path / "input"),
            "BLACKLODGE_OUTPUT_FILE": str(tmp_path / "result.json"),
        }
        environ.update(env)
        return load_settings(environ)

    return make


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")
