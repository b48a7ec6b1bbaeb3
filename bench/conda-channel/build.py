"""Builds the bench's conda channel: real `.conda` packages and their repodata.

Run by bench/steps/conda-channel.sh in the channel tool venv (tools.requirements.txt):

    build.py --python PYTHON_TREE --native NATIVE_TREE --wheels WHEEL_DIR --extra-wheels EXTRA_WHEEL_DIR --out CHANNEL_ROOT

- PYTHON_TREE: the bench's relocatable CPython 3.13 tree (bench/steps/python.sh), unpacked.
  Becomes `python` (linux-64) with `python_abi`; the files that name the build prefix
  (`/install`) get the prefix placeholder, in text mode, like conda-forge's python.
- NATIVE_TREE: libblgreet and the blgreet extension compiled against the placeholder prefix
  (NATIVE_TREE/libblgreet, NATIVE_TREE/blgreet). Their paths.json lists the placeholder for
  the shared objects (binary mode) and the text files, written here (no tool detects them).
- WHEEL_DIR: PyPI wheels, repackaged: pure ones as `noarch: python` (site-packages/,
  python-scripts/, console scripts as link.json entry points), platform ones for linux-64.

- EXTRA_WHEEL_DIR (--extra-wheels): wheels for the second channel, `bench-extra`.

Writes CHANNEL_ROOT/{conda-forge,bench-extra}/{linux-64,noarch}/ and indexes them with
rattler's indexer.
Archives are reproducible (sorted, fixed owner and mtime), so only inputs change hashes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import email.parser
import hashlib
import io
import json
import os
import re
import stat
import sys
import tarfile
import zipfile
from pathlib import Path

import zstandard
from rattler.index import index_fs
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

CHANNEL = "conda-forge"
EXTRA_CHANNEL = "bench-extra"
# conda-build's convention: a 255-character prefix, long enough for any real prefix to be
# written over it in binary files (the rest padded with NUL bytes).
PLACEHOLDER = ("/opt/blacklodge/conda-bench/_placehold" + "_placehold" * 30)[:255]
PY_VERSION = "3.13"
PY_TAG = "cp313"
# What an extension built for PY_VERSION runs on (conda-forge's run export of python).
PY_RANGE = f"python >={PY_VERSION},<3.14.0a0"
SITE_PACKAGES = f"lib/python{PY_VERSION}/site-packages"
# Fixed build time of every package (ms since the epoch): the solver's timestamp tiebreak
# then depends on versions only, and archives are reproducible.
TIMESTAMP_MS = 1_735_689_600_000
MTIME = TIMESTAMP_MS // 1000
# conda-forge compresses with level 19; 12 makes python's 37 MB archive ~10% larger in a
# fraction of the time, which matters on a fresh machine's 2 cores.
ZSTD_LEVEL = 12
LICENSE = {"python": "Python-2.0", "libblgreet": "MIT", "blgreet": "MIT", "python_abi": "BSD-3-Clause"}
MARKER_ENV = dict(default_environment(), python_version=PY_VERSION, python_full_version=f"{PY_VERSION}.5",
                  implementation_name="cpython", platform_python_implementation="CPython",
                  sys_platform="linux", platform_system="Linux", os_name="posix", platform_machine="x86_64")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Package:
    """A package being assembled in memory: files (path -> bytes or symlink target) + metadata."""

    def __init__(self, name: str, version: str, subdir: str, depends: list[str], *,
                 noarch: str | None = None, build_tag: str = "", constrains: list[str] | None = None,
                 license: str | None = None, summary: str = "") -> None:
        self.name, self.version, self.subdir, self.noarch = name, version, subdir, noarch
        self.depends, self.constrains = sorted(depends), sorted(constrains or [])
        digest = sha256(json.dumps([name, version, self.depends, self.constrains]).encode())[:7]
        self.build = f"{'pyh' if noarch == 'python' else 'h'}{digest}_0{build_tag}"
        self.license, self.summary = license, summary
        self.files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        self.modes: dict[str, int] = {}
        self.placeholders: dict[str, str] = {}   # path -> "text" | "binary"
        self.entry_points: list[str] = []

    def add(self, path: str, data: bytes, mode: int = 0o644) -> None:
        if path in self.files or path in self.links:
            sys.exit(f"{self.name}: {path} added twice")
        self.files[path], self.modes[path] = data, mode

    def add_tree(self, root: Path, prefix: str = "") -> None:
        for p in sorted(root.rglob("*")):
            rel = (prefix + "/" if prefix else "") + p.relative_to(root).as_posix()
            if p.is_symlink():
                self.links[rel] = os.readlink(p)
            elif p.is_file():
                self.add(rel, p.read_bytes(), stat.S_IMODE(p.stat().st_mode))

    def placeholder(self, path: str, mode: str) -> None:
        """Records that PATH holds PLACEHOLDER (checked: a stale list would rewrite nothing)."""
        if PLACEHOLDER.encode() not in self.files[path]:
            sys.exit(f"{self.name}: {path} was listed with the prefix placeholder but does not contain it")
        self.placeholders[path] = mode

    @property
    def stem(self) -> str:
        return f"{self.name}-{self.version}-{self.build}"

    def info(self) -> dict[str, bytes]:
        index = {"name": self.name, "version": self.version, "build": self.build, "build_number": 0,
                 "depends": self.depends, "subdir": self.subdir, "timestamp": TIMESTAMP_MS}
        if self.constrains:
            index["constrains"] = self.constrains
        if self.license:
            index["license"] = self.license
        if self.noarch:
            index["noarch"] = self.noarch
        else:
            index.update(arch="x86_64", platform="linux")
        entries = []
        for path in sorted([*self.files, *self.links]):
            if path in self.links:
                entries.append({"_path": path, "path_type": "softlink", "size_in_bytes": len(self.links[path])})
                continue
            entry = {"_path": path, "path_type": "hardlink", "sha256": sha256(self.files[path]),
                     "size_in_bytes": len(self.files[path])}
            if path in self.placeholders:
                entry.update(file_mode=self.placeholders[path], prefix_placeholder=PLACEHOLDER)
            entries.append(entry)
        info = {
            "info/index.json": index,
            "info/paths.json": {"paths": entries, "paths_version": 1},
            "info/about.json": {"summary": self.summary, "license": self.license or "",
                                "home": "https://github.com/blacklodge (bench conda channel)"},
        }
        if self.noarch == "python":
            info["info/link.json"] = {"noarch": {"type": "python", "entry_points": self.entry_points},
                                      "package_metadata_version": 1}
        out = {k: (json.dumps(v, indent=2, sort_keys=True) + "\n").encode() for k, v in info.items()}
        out["info/files"] = "".join(f"{e['_path']}\n" for e in entries).encode()
        # The legacy list of the same placeholders (conda reads paths.json first).
        if self.placeholders:
            out["info/has_prefix"] = "".join(f"{PLACEHOLDER} {m} {p}\n" for p, m in sorted(self.placeholders.items())).encode()
        return out

    def write(self, channel: Path) -> Path:
        """Writes NAME-VERSION-BUILD.conda: a zip of metadata.json, info-*.tar.zst, pkg-*.tar.zst."""
        target = channel / self.subdir / f"{self.stem}.conda"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".conda.tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
            def member(name: str, data: bytes) -> None:
                zi = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
                z.writestr(zi, data)
            member("metadata.json", json.dumps({"conda_pkg_format_version": 2}).encode())
            member(f"pkg-{self.stem}.tar.zst", self._tar_zst(self.files, self.links))
            member(f"info-{self.stem}.tar.zst", self._tar_zst(self.info(), {}))
        os.replace(tmp, target)
        return target

    def _tar_zst(self, files: dict[str, bytes], links: dict[str, str]) -> bytes:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted([*files, *links]):
                ti = tarfile.TarInfo(path)
                ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = MTIME, 0, 0, "", ""
                if path in links:
                    ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, links[path], 0o777
                    tar.addfile(ti)
                else:
                    ti.size, ti.mode = len(files[path]), self.modes.get(path, 0o644)
                    tar.addfile(ti, io.BytesIO(files[path]))
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1).compress(raw.getvalue())


# --- python --------------------------------------------------------------------------------

# Files of the CPython tree that name its build prefix; everything else is prefix-free
# (the interpreter finds its prefix from its own location).
PYTHON_PREFIX_FILES = re.compile(
    r"bin/(python3\.13-config|pydoc3\.13|idle3\.13)|lib/pkgconfig/python-3\.13(-embed)?\.pc"
    r"|lib/python3\.13/_sysconfigdata__linux_x86_64-linux-gnu\.py"
    r"|lib/python3\.13/config-3\.13-x86_64-linux-gnu/(Makefile|python-config\.py)")
BUILD_PREFIX = "/install"


def python_packages(tree: Path) -> list[Package]:
    version = re.search(r'^#define PY_VERSION\s+"([^"]+)"', (tree / "include/python3.13/patchlevel.h").read_text(), re.M)[1]
    abi = Package("python_abi", PY_VERSION, "linux-64", [], build_tag=f"_{PY_TAG}",
                  constrains=[f"python {PY_VERSION}.* *_{PY_TAG}"], license=LICENSE["python_abi"],
                  summary="Marks the ABI of the python package (CPython 3.13)")
    py = Package("python", version, "linux-64", ["__glibc >=2.17,<3.0.a0", f"python_abi {PY_VERSION}.* *_{PY_TAG}"],
                 build_tag=f"_{PY_TAG}", license=LICENSE["python"],
                 summary="CPython built from source by the bench (static libpython, system OpenSSL/libffi/sqlite)")
    py.add_tree(tree)
    pattern = re.compile(re.escape(BUILD_PREFIX) + r"(?=[/'\" \n]|$)", re.M)
    for path in list(py.files):
        if PYTHON_PREFIX_FILES.fullmatch(path):
            text = py.files[path].decode()
            if not pattern.search(text):
                sys.exit(f"python: {path} no longer names {BUILD_PREFIX}; update PYTHON_PREFIX_FILES")
            py.files[path] = pattern.sub(PLACEHOLDER, text).encode()
            py.placeholder(path, "text")
    # The bytecode of the rewritten module would keep the build prefix (unchecked-hash pycs).
    for path in [p for p in py.files if "_sysconfigdata_" in p and p.endswith(".pyc")]:
        del py.files[path]
    return [abi, py]


# --- wheels --------------------------------------------------------------------------------

def conda_spec(req: Requirement) -> str:
    name = canonicalize_name(req.name)
    spec = ",".join(sorted(str(s) for s in req.specifier))
    return f"{name} {spec}" if spec else name


def wheel_package(path: Path) -> Package:
    """A wheel repackaged the way conda-forge's python packages lay it out."""
    z = zipfile.ZipFile(path)
    names = z.namelist()
    dist_info = next(n.split("/")[0] for n in names if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
    meta = email.parser.Parser().parsestr(z.read(f"{dist_info}/METADATA").decode())
    wheel = email.parser.Parser().parsestr(z.read(f"{dist_info}/WHEEL").decode())
    name, version = canonicalize_name(meta["Name"]), meta["Version"]
    pure = wheel["Root-Is-Purelib"].strip() == "true" and all(t.endswith("-none-any") for t in wheel.get_all("Tag"))
    depends = []
    for line in meta.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(dict(MARKER_ENV, extra="")):
            depends.append(conda_spec(req))
    if pure:
        depends.append(conda_spec(Requirement(f"python{meta['Requires-Python'] or ''}")))
        pkg = Package(name, version, "noarch", depends, noarch="python", license=meta["License-Expression"] or meta["License"],
                      summary=meta["Summary"])
        site, scripts = "site-packages", "python-scripts"
    else:
        if not any(t.startswith(f"{PY_TAG}-{PY_TAG}-") for t in wheel.get_all("Tag")):
            sys.exit(f"{path.name}: a platform wheel must be for {PY_TAG}")
        depends += [PY_RANGE, f"python_abi {PY_VERSION}.* *_{PY_TAG}"]
        pkg = Package(name, version, "linux-64", depends, build_tag=f"_{PY_TAG}", license=meta["License-Expression"] or meta["License"],
                      summary=meta["Summary"])
        site, scripts = SITE_PACKAGES, "bin"
    data_dir = dist_info.replace(".dist-info", ".data")
    for n in names:
        if n.endswith("/"):
            continue
        mode = (z.getinfo(n).external_attr >> 16) & 0o777 or 0o644
        if n.startswith(data_dir + "/"):
            kind, _, rest = n[len(data_dir) + 1:].partition("/")
            if kind == "scripts":
                pkg.add(f"{scripts}/{rest}", z.read(n), 0o755)
            elif kind in ("purelib", "platlib"):
                pkg.add(f"{site}/{rest}", z.read(n), mode)
            else:
                sys.exit(f"{path.name}: .data/{kind} is not supported by the bench's repackaging")
        elif n == f"{dist_info}/RECORD":
            continue
        else:
            pkg.add(f"{site}/{n}", z.read(n), mode)
    pkg.add(f"{site}/{dist_info}/INSTALLER", b"conda\n")
    pkg.add(f"{site}/{dist_info}/RECORD", record(pkg, site, dist_info))
    if f"{dist_info}/entry_points.txt" in names:
        section = None
        for line in z.read(f"{dist_info}/entry_points.txt").decode().splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line.strip("[]")
            elif section == "console_scripts" and "=" in line:
                script, target = (s.strip() for s in line.split("=", 1))
                # pip's wheel names pipX.Y after the Python that built it: not ours.
                if not re.fullmatch(r"pip3\.\d+", script):
                    pkg.entry_points.append(f"{script} = {target}")
    if pkg.entry_points and not pure:
        sys.exit(f"{path.name}: console scripts of a platform wheel are not supported by the bench's repackaging")
    return pkg


def record(pkg: Package, site: str, dist_info: str) -> bytes:
    """dist-info/RECORD for the files installed into site-packages (what pip would write)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for path in sorted(pkg.files):
        if path.startswith(site + "/"):
            digest = base64.urlsafe_b64encode(hashlib.sha256(pkg.files[path]).digest()).rstrip(b"=").decode()
            w.writerow([path[len(site) + 1:], f"sha256={digest}", len(pkg.files[path])])
    w.writerow([f"{dist_info}/RECORD", "", ""])
    return out.getvalue().encode()


# --- native library + extension ------------------------------------------------------------

def native_packages(tree: Path, source: Path) -> list[Package]:
    lib = Package("libblgreet", "1.0.0", "linux-64", ["__glibc >=2.17,<3.0.a0"], license=LICENSE["libblgreet"],
                  summary="Small C library of the bench channel with its prefix compiled in")
    lib.add_tree(tree / "libblgreet")
    lib.add("include/blgreet.h", (source / "blgreet.h").read_bytes())
    lib.add("share/blgreet/message.txt", b"hello from libblgreet\n")
    lib.add("lib/pkgconfig/blgreet.pc", (
        f"prefix={PLACEHOLDER}\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include\n\n"
        "Name: blgreet\nDescription: bench conda channel library\nVersion: 1.0.0\n"
        "Libs: -L${libdir} -lblgreet\nCflags: -I${includedir}\n").encode())
    # An activation script: conda activation (and rattler_shell) sources it; its value is
    # rewritten at install (text placeholder), so the variable names the environment.
    lib.add("etc/conda/activate.d/libblgreet_activate.sh",
            f'export BLGREET_HOME="{PLACEHOLDER}/share/blgreet"\n'.encode())
    lib.add("etc/conda/deactivate.d/libblgreet_deactivate.sh", b"unset BLGREET_HOME\n")
    for path, mode in (("lib/libblgreet.so.1", "binary"), ("lib/pkgconfig/blgreet.pc", "text"),
                       ("etc/conda/activate.d/libblgreet_activate.sh", "text")):
        lib.placeholder(path, mode)
    ext = Package("blgreet", "1.0.0", "linux-64",
                  ["libblgreet >=1.0.0,<2.0a0", PY_RANGE, f"python_abi {PY_VERSION}.* *_{PY_TAG}"],
                  build_tag=f"_{PY_TAG}", license=LICENSE["blgreet"], summary="Python extension over libblgreet")
    ext.add_tree(tree / "blgreet")
    ext.add(f"{SITE_PACKAGES}/blgreet/__init__.py", (source / "__init__.py").read_bytes())
    ext.placeholder(f"{SITE_PACKAGES}/blgreet/_blgreet.cpython-313-x86_64-linux-gnu.so", "binary")
    return [lib, ext]


def write_channel(channel: Path, packages: list[Package]) -> None:
    for sub in ("linux-64", "noarch"):
        (channel / sub).mkdir(parents=True, exist_ok=True)
    for pkg in packages:
        pkg.write(channel)
        print(f"    {channel.name}/{pkg.subdir}/{pkg.stem}.conda", file=sys.stderr)
    asyncio.run(index_fs(channel, write_zst=False, write_shards=False, force=True))
    for sub in ("linux-64", "noarch"):
        repodata = json.loads((channel / sub / "repodata.json").read_text())
        count = len(repodata.get("packages.conda", {}))
        if count != sum(p.subdir == sub for p in packages):
            sys.exit(f"the index of {channel.name}/{sub} lists {count} packages, not the ones written")


def main() -> None:
    ap = argparse.ArgumentParser()
    for a in ("--python", "--native", "--wheels", "--extra-wheels", "--out"):
        ap.add_argument(a, type=Path, required=True)
    args = ap.parse_args()
    packages = python_packages(args.python)
    packages += native_packages(args.native, Path(__file__).parent / "blgreet")
    packages += [wheel_package(w) for w in sorted(args.wheels.glob("*.whl"))]
    write_channel(args.out / CHANNEL, packages)
    write_channel(args.out / EXTRA_CHANNEL, [wheel_package(w) for w in sorted(args.extra_wheels.glob("*.whl"))])


if __name__ == "__main__":
    if sys.argv[1:] == ["--placeholder"]:
        print(PLACEHOLDER)
    else:
        main()
        # py-rattler 0.28 sometimes crashes (SIGSEGV, SIGABRT) while the interpreter shuts
        # down, after all work is done: leave without the shutdown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
