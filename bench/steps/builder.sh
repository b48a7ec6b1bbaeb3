# Create the builder image from the packaged buildpacks, the stack images and the lifecycle.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

create_builder() {
  step "Creating the builder $BUILDER_IMAGE"
  run_logged "pack builder create" "$BLACKLODGE_CACHE/builder-create.log" \
    pack builder create "$BUILDER_IMAGE" --config "$REPO_DIR/builder/builder.toml" --pull-policy never
  # pack trusts builders it created; nothing else to configure.
}

create_builder
