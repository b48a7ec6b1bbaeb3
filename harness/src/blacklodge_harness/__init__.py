"""Blacklodge harness: serve a plain Python function or class as a service.

The harness imports the entry point named by ``BLACKLODGE_ENTRYPOINT`` and
exposes it over HTTP (``blacklodge web``) or runs it once (``blacklodge job``).
User code does not need to import anything from here; :class:`BadInput` is the
one optional helper, for handlers that want to reject a payload with a 400
(HTTP) or exit code 2 (job) instead of a 500 / exit code 1.
"""

from __future__ import annotations

__version__ = "0.1.0"

from blacklodge_harness.errors import BadInput

__all__ = ["BadInput", "__version__"]
