"""Errors the harness reports, each with a title, the cause and the fix.

Every problem a person must act on (a bad variable, an entry point that cannot
be imported, unreadable job input) is a :class:`HarnessError`. One function,
:meth:`HarnessError.render`, turns it into text and one,
:meth:`HarnessError.to_dict`, into the JSON the build tooling renders.
"""

from __future__ import annotations

from typing import Any


class HarnessError(Exception):
    """A problem with a title, a detail (the cause) and a fix (the action)."""

    #: Stable machine-readable identifier, overridden per error.
    code: str = "harness_error"

    def __init__(self, title: str, detail: str = "", fix: str = "", *, code: str | None = None) -> None:
        super().__init__(title)
        self.title = title
        self.detail = detail
        self.fix = fix
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title, "detail": self.detail, "fix": self.fix}

    def render(self) -> str:
        """Human-readable block: title line, indented detail, then the fix."""
        lines = [f"error: {self.title}"]
        lines.extend(f"  {line}" if line else "" for line in self.detail.splitlines())
        if self.fix:
            fix_lines = self.fix.splitlines()
            lines.append(f"  fix: {fix_lines[0]}")
            lines.extend(f"       {line}" for line in fix_lines[1:])
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class ConfigError(HarnessError):
    """A ``BLACKLODGE_*`` (or ``PORT`` / PlanQK) variable is unknown or malformed."""

    code = "config"


class EntryPointError(HarnessError):
    """The entry point cannot be imported, found, or called the way the harness calls it."""

    code = "entrypoint"


class InputError(HarnessError):
    """Job input is missing or is not valid JSON."""

    code = "bad_input"


class BadInput(Exception):
    """Raise from a handler to reject the payload as the caller's fault.

    HTTP mode answers ``400`` with ``{"error": {"type": "bad_input", "message": str(exc)}}``
    (the message is always shown: the handler wrote it for the caller). Job mode
    exits with code 2. Any other exception is a handler failure (500 / exit 1).
    """

    def __init__(self, message: str = "the payload was rejected by the handler") -> None:
        super().__init__(message)
        self.message = message
