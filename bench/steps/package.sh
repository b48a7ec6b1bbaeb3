# Package the buildpacks of the working tree (cargo libcnb package --release).
# Runs every time (cheap when nothing changed): the packaged buildpacks always match the source.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ensure_libcnb_cargo() {
  local root="$TOOLS_DIR/libcnb-cargo-$LIBCNB_CARGO_VERSION"
  if [ ! -x "$root/bin/cargo-libcnb" ]; then
    step "Installing libcnb-cargo $LIBCNB_CARGO_VERSION (cargo libcnb package)"
    run_logged "cargo install libcnb-cargo" "$BLACKLODGE_CACHE/libcnb-cargo-install.log" \
      cargo install libcnb-cargo --version "$LIBCNB_CARGO_VERSION" --locked --root "$root.tmp"
    rm -rf "$root" && mv "$root.tmp" "$root"
  fi
  ln -sf "$root/bin/cargo-libcnb" "$TOOLS_DIR/bin/cargo-libcnb"
}

package_buildpacks() {
  step "Packaging the buildpacks (cargo libcnb package --release)"
  # Run from a test (bench/publish in tests/tests/platform.rs), the environment holds the
  # variables cargo sets for a running test; some build scripts watch them (ring reruns when
  # CARGO_MANIFEST_DIR changes), and everything above them would be compiled again, here and
  # in the next build without them. Package with the environment of a plain shell.
  unset CARGO_MANIFEST_DIR CARGO_MANIFEST_PATH CARGO_CRATE_NAME CARGO_BIN_NAME \
    CARGO_PRIMARY_PACKAGE CARGO_TARGET_TMPDIR "${!CARGO_PKG_@}"
  (cd "$REPO_DIR" && run_logged "packaging buildpacks" "$BLACKLODGE_CACHE/package.log" \
    cargo libcnb package --release --target "$BUILDPACK_TARGET")
  mkdir -p "$REPO_DIR/packaged"
  ln -sf "$LIFECYCLE_TGZ" "$REPO_DIR/packaged/lifecycle.tgz"
}

ensure_libcnb_cargo
package_buildpacks
