"""Solves and installs the bench's reference environment from a freshly built channel with
py-rattler, and writes the lock fixtures the conda buildpack's tests use.

    fixtures.py --channel-dir CHANNEL_ROOT --url SERVED_URL --prefix PREFIX --cache CACHE --out FIXTURES

- Solves environment.yml (below) against CHANNEL_ROOT/conda-forge for linux-64 (glibc 2.36, the
  bench's Debian), checks the version constraint forced the older flask, installs into PREFIX.
- Writes FIXTURES/environment.yml, FIXTURES/explicit-linux-64.txt (`conda list --explicit
  --md5` format: the `package-list.txt` a user commits) and FIXTURES/conda-lock.yml (conda-lock's
  version 1 format), all naming packages by their URL under SERVED_URL.
- Checks that channel priority decides between `conda-forge` and `bench-extra` (packaging).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from pathlib import Path

import rattler

# The reference environment: a web app whose `werkzeug <3.1` forces flask 3.0 (flask 3.1
# needs werkzeug >= 3.1), plus the native extension (prefix rewriting) and pip.
SPECS = ["python 3.13.*", "flask", "werkzeug <3.1", "gunicorn", "blgreet", "pip"]
EXPECT = {"flask": "3.0.3", "werkzeug": "3.0.6", "python": "3.13.5"}
GLIBC = "2.36"


def environment_yml() -> str:
    deps = "".join(f"  - {s}\n" for s in SPECS)
    return f"name: bench\nchannels:\n  - conda-forge\ndependencies:\n{deps}"


async def solve(channel_dir: Path, cache: Path) -> list[rattler.RepoDataRecord]:
    channel = rattler.Channel(str(channel_dir / "conda-forge"))
    gateway = rattler.Gateway(cache_dir=cache / "repodata")
    return await rattler.solve([channel], SPECS, gateway=gateway, platforms=["linux-64", "noarch"],
                               virtual_packages=virtual_packages())


def virtual_packages() -> list[rattler.GenericVirtualPackage]:
    """The bench's Debian (not the machine running this)."""
    return [rattler.GenericVirtualPackage(rattler.PackageName(name), rattler.Version(version), rattler.BuildString("0"))
            for name, version in (("__glibc", GLIBC), ("__unix", "0"), ("__linux", "6.1"))]


async def check_priority(channel_dir: Path, cache: Path) -> None:
    """`bench-extra` has a newer packaging than `conda-forge`: priority must decide."""
    channels = [rattler.Channel(str(channel_dir / name)) for name in ("conda-forge", "bench-extra")]
    gateway = rattler.Gateway(cache_dir=cache / "repodata")
    for priority, expected in ((rattler.ChannelPriority.Strict, "24.2"), (rattler.ChannelPriority.Disabled, "25.0")):
        records = await rattler.solve(channels, ["packaging"], gateway=gateway, platforms=["linux-64", "noarch"],
                                      channel_priority=priority, virtual_packages=virtual_packages())
        got = next(str(r.version) for r in records if r.name.normalized == "packaging")
        if got != expected:
            raise SystemExit(f"channel priority {priority}: solved packaging {got}, expected {expected}")


def yaml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def conda_lock(records: list[rattler.RepoDataRecord], url: str, env_yml: str) -> str:
    lines = ["version: 1", "metadata:", "  content_hash:",
             f"    linux-64: {hashlib.sha256(env_yml.encode()).hexdigest()}",
             "  channels:", "  - url: conda-forge", "    used_env_vars: []",
             "  platforms:", "  - linux-64", "  sources:", "  - environment.yml", "package:"]
    for r in sorted(records, key=lambda r: r.name.normalized):
        lines += [f"- name: {r.name.normalized}", f"  version: {yaml_str(str(r.version))}", "  manager: conda",
                  "  platform: linux-64"]
        deps = [d.split(" ", 1) for d in r.depends if not d.startswith("__")]
        lines.append("  dependencies:" + ("" if deps else " {}"))
        lines += [f"    {d[0]}: {yaml_str(d[1] if len(d) > 1 else '*')}" for d in deps]
        lines += [f"  url: {url}/conda-forge/{r.subdir}/{r.file_name}", "  hash:",
                  f"    md5: {r.md5.hex()}", f"    sha256: {r.sha256.hex()}", "  category: main", "  optional: false"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    for a in ("--channel-dir", "--prefix", "--cache", "--out"):
        ap.add_argument(a, type=Path, required=True)
    ap.add_argument("--url", required=True)
    args = ap.parse_args()
    records = asyncio.run(solve(args.channel_dir, args.cache))
    got = {r.name.normalized: str(r.version) for r in records}
    for name, version in EXPECT.items():
        if got.get(name) != version:
            raise SystemExit(f"the reference environment solved {name} {got.get(name)}, expected {version}: {got}")
    asyncio.run(check_priority(args.channel_dir, args.cache))
    asyncio.run(rattler.install(records, args.prefix, cache_dir=args.cache / "pkgs", show_progress=False))
    args.out.mkdir(parents=True, exist_ok=True)
    env_yml = environment_yml()
    (args.out / "environment.yml").write_text(env_yml)
    by_name = {r.name.normalized: r for r in records}
    order = [by_name[p.name.normalized] for p in rattler.RepoDataRecord.sort_topologically(records)]
    (args.out / "explicit-linux-64.txt").write_text(
        "# This file may be used to create an environment using:\n# $ conda create --name <env> --file <this file>\n"
        "# platform: linux-64\n@EXPLICIT\n"
        + "".join(f"{args.url}/conda-forge/{r.subdir}/{r.file_name}#{r.md5.hex()}\n" for r in order))
    (args.out / "conda-lock.yml").write_text(conda_lock(records, args.url, env_yml))
    print("    reference environment: " + " ".join(f"{n}={v}" for n, v in sorted(got.items())))


if __name__ == "__main__":
    main()
    # py-rattler 0.28 sometimes crashes (SIGSEGV, SIGABRT) while the interpreter shuts down, after
    # all work is done: leave without the shutdown.
    sys.stdout.flush()
    os._exit(0)
