"""Describes the Python environment the app runs in, for the blacklodge/web buildpack.

Prints one JSON object: the interpreter's version and prefix, and every installed distribution
visible on sys.path (the first one found wins, as for imports), as `name==version`.
"""

import importlib.metadata
import json
import platform
import re
import sys


def main() -> None:
    seen = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key not in seen:
            seen[key] = dist.version
    print(
        json.dumps(
            {
                "python_version": platform.python_version(),
                "prefix": sys.prefix,
                "distributions": sorted(f"{name}=={version}" for name, version in seen.items()),
            }
        )
    )


main()
