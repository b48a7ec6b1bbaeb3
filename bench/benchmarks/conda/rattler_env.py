"""The py-rattler baseline of bench/benchmarks/conda.sh: solves an environment.yml and
installs it into a prefix, the way a script or a Dockerfile would without conda.

    rattler_env.py ENVIRONMENT_YML PREFIX CACHE_DIR CHANNEL_ALIAS [--clean]

Prints one JSON line: {"solve": seconds, "install": seconds, "packages": n}. The solve
includes fetching the repodata; the install includes downloading, extracting and linking.
With an existing PREFIX it installs only what changed (a no-op when nothing did).
--clean removes CACHE_DIR afterwards (like `micromamba clean -a` in a Dockerfile).
Understands the environment.yml subset the benchmark uses: `channels:` and plain
`dependencies:` (no `pip:` section).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path

import rattler


def read_environment(path: Path) -> tuple[list[str], list[str]]:
    channels: list[str] = []
    deps: list[str] = []
    section = None
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not line.startswith(" ") and line.endswith(":"):
            section = line[:-1]
        elif line.lstrip().startswith("- ") and section in ("channels", "dependencies"):
            item = line.lstrip()[2:].strip()
            if item.endswith(":"):
                sys.exit(f"{path}: a '{item}' section is not supported by this baseline")
            (channels if section == "channels" else deps).append(item)
    return channels, deps


async def main() -> None:
    env_yml, prefix, cache, alias = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    channel_names, specs = read_environment(env_yml)
    config = rattler.ChannelConfig(channel_alias=alias)
    channels = [rattler.Channel(name, config) for name in channel_names]
    started = time.monotonic()
    installed = [rattler.PrefixRecord.from_path(p) for p in sorted((prefix / "conda-meta").glob("*.json"))]
    records = await rattler.solve(channels, specs, gateway=rattler.Gateway(cache_dir=cache / "repodata"),
                                  platforms=["linux-64", "noarch"], virtual_packages=rattler.VirtualPackage.detect(),
                                  locked_packages=installed)
    solved = time.monotonic()
    await rattler.install(records, prefix, cache_dir=cache / "pkgs", installed_packages=installed, show_progress=False)
    done = time.monotonic()
    if "--clean" in sys.argv[5:]:
        shutil.rmtree(cache)
    print(json.dumps({"solve": round(solved - started, 3), "install": round(done - solved, 3), "packages": len(records)}))


if __name__ == "__main__":
    asyncio.run(main())
    # py-rattler 0.28 sometimes crashes (SIGSEGV, SIGABRT) while the interpreter shuts down, after
    # all work is done: leave without the shutdown.
    sys.stdout.flush()
    os._exit(0)
