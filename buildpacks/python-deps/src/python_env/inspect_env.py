"""Describes the Python environment the app runs in, for the buildpacks that install next to
the app's packages (blacklodge/web, blacklodge/wrapper).

Prints one JSON object: the interpreter's version and prefix, and every installed
distribution visible on sys.path (the first one found wins, as for imports), as
`name==version`. The buildpacks pin these as pip constraints, so what they install never
replaces a package the app installed.
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
