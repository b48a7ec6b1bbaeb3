"""blgreet: a Python extension over libblgreet, the bench conda channel's native library."""

from blgreet._blgreet import message, prefix

__all__ = ["message", "prefix"]
