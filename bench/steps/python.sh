# Produce relocatable CPython archives in the python-build-standalone `install_only` layout
# from Debian's interpreter packages (the upstream archives are not reachable here), write a
# manifest with real sha256 sums, and serve both from a loopback HTTP mirror.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

MIRROR_DIR="$BLACKLODGE_CACHE/mirror"
# Build tag of the archives we make; bump when the packaging below changes.
ARCHIVE_BUILD="debian${DEBIAN_VERSION_ID}.1"

make_debian_cpython() {
  local minor="$1"   # e.g. 3.11
  local marker="$MIRROR_DIR/.cpython-$minor-$ARCHIVE_BUILD.done"
  [ -f "$marker" ] && { info "CPython $minor archive cached"; return; }
  step "Packaging CPython $minor from Debian $DEBIAN_SUITE packages"
  local work; work="$(mktemp -d "$BLACKLODGE_CACHE/cpython-XXXX")"
  # Runs in the base image as root: apt-get download + dpkg -x need no host changes.
  run_logged "packaging CPython $minor" "$BLACKLODGE_CACHE/cpython-$minor.log" \
    docker run --rm --network host -u 0 -v "$work:/out" "$BASE_IMAGE" bash -euo pipefail -c "
      apt-get update -qq
      cd /tmp
      apt-get download -qq python$minor-minimal libpython$minor-minimal libpython$minor-stdlib libpython$minor-dev
      version=\$(dpkg-deb -f python$minor-minimal_*.deb Version | sed 's/-.*//')
      mkdir -p root
      for deb in *.deb; do dpkg -x \"\$deb\" root; done
      p=/out/python
      mkdir -p \$p/bin \$p/lib \$p/include
      cp -a root/usr/bin/python$minor \$p/bin/
      ln -s python$minor \$p/bin/python3
      ln -s python$minor \$p/bin/python
      cp -a root/usr/lib/python$minor \$p/lib/
      cp -a root/usr/include/python$minor \$p/include/
      # Debian's pyconfig.h is a multiarch wrapper; put the real one in place.
      cp root/usr/include/x86_64-linux-gnu/python$minor/pyconfig.h \$p/include/python$minor/pyconfig.h
      cp -a root/usr/lib/x86_64-linux-gnu/libpython$minor.so* \$p/lib/ 2>/dev/null || true
      rm -rf \$p/lib/python$minor/test \$p/lib/python$minor/idlelib \$p/lib/python$minor/tkinter
      find \$p -name __pycache__ -type d -prune -exec rm -rf {} +
      echo \"\$version\" > /out/VERSION
      chown -R $(id -u):$(id -g) /out
    "
  local version; version="$(cat "$work/VERSION")"
  local name="cpython-${version}+${ARCHIVE_BUILD}-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
  mkdir -p "$MIRROR_DIR/$ARCHIVE_BUILD"
  # Reproducible archive: sorted names, fixed owner and mtime.
  tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-01-01 00:00Z' \
    -czf "$MIRROR_DIR/$ARCHIVE_BUILD/$name.tmp" python
  publish "$MIRROR_DIR/$ARCHIVE_BUILD/$name.tmp" "$MIRROR_DIR/$ARCHIVE_BUILD/$name"
  rm -rf "$work"
  printf '%s\n' "$version" > "$marker"
}

write_manifest() {
  python3 - "$MIRROR_DIR" "$MIRROR_URL" <<'PY'
import hashlib, json, os, re, sys
mirror, base = sys.argv[1], sys.argv[2]
archives = []
for build in sorted(os.listdir(mirror)):
    d = os.path.join(mirror, build)
    if not os.path.isdir(d):
        continue
    for name in sorted(os.listdir(d)):
        m = re.fullmatch(r"cpython-([0-9.]+)\+([^-]+)-(x86_64|aarch64)-unknown-linux-gnu-install_only_stripped\.tar\.gz", name)
        if not m:
            continue
        h = hashlib.sha256()
        with open(os.path.join(d, name), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        archives.append({"version": m.group(1), "arch": m.group(3), "libc": "gnu", "build": m.group(2),
                         "url": f"{base}/{build}/{name.replace('+', '%2B')}", "sha256": h.hexdigest()})
manifest = {"source": "blacklodge bench: CPython repackaged from Debian packages", "archives": archives}
tmp = os.path.join(mirror, "manifest.json.tmp")
with open(tmp, "w") as f:
    json.dump(manifest, f, indent=1)
os.replace(tmp, os.path.join(mirror, "manifest.json"))
print(f"    manifest: {len(archives)} archive(s)", file=sys.stderr)
PY
}

ensure_mirror_server() {
  if curl -fsS -o /dev/null "$MIRROR_URL/manifest.json" 2>/dev/null; then info "mirror answers at $MIRROR_URL"; return; fi
  step "Starting the CPython mirror on $MIRROR_URL"
  setsid python3 -m http.server "$MIRROR_PORT" --bind 127.0.0.1 --directory "$MIRROR_DIR" \
    >"$BLACKLODGE_CACHE/mirror.log" 2>&1 < /dev/null &
  for _ in $(seq 1 30); do
    curl -fsS -o /dev/null "$MIRROR_URL/manifest.json" 2>/dev/null && return
    sleep 0.5
  done
  die "the CPython mirror did not start on $MIRROR_URL" "see $BLACKLODGE_CACHE/mirror.log" "free port $MIRROR_PORT or set BLACKLODGE_MIRROR_PORT, then re-run"
}

make_debian_cpython 3.11
write_manifest
ensure_mirror_server
