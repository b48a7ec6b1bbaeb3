# Package the buildpacks of the working tree and create the builder image from them.
# Runs every time (cheap when nothing changed): the builder always matches the source.
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
  (cd "$REPO_DIR" && run_logged "packaging buildpacks" "$BLACKLODGE_CACHE/package.log" \
    cargo libcnb package --release --target x86_64-unknown-linux-gnu)
  mkdir -p "$REPO_DIR/packaged"
  ln -sf "$TOOLS_DIR/lifecycle.tgz" "$REPO_DIR/packaged/lifecycle.tgz"
}

create_builder() {
  step "Creating the builder $BUILDER_IMAGE"
  run_logged "pack builder create" "$BLACKLODGE_CACHE/builder-create.log" \
    pack builder create "$BUILDER_IMAGE" --config "$REPO_DIR/builder/builder.toml" --pull-policy never
  # pack trusts builders it created; nothing else to configure.
}

ensure_libcnb_cargo
package_buildpacks
create_builder
