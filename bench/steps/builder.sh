# Create every stack's builder from the packaged buildpacks, the stack's images and the
# lifecycle: builder/stack-config derives each stack's configuration from builder/builder.toml.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

create_builder() {
  use_stack "$1"
  local config="$REPO_DIR/packaged/builder-$DEBIAN_SUITE.toml"
  mkdir -p "$REPO_DIR/packaged"
  "$REPO_DIR/builder/stack-config" "$DEBIAN_SUITE" > "$config.tmp"
  publish "$config.tmp" "$config"
  step "Creating the builder $BUILDER_IMAGE (Debian $DEBIAN_VERSION_ID)"
  run_logged "pack builder create" "$BLACKLODGE_CACHE/builder-create-$DEBIAN_SUITE.log" \
    pack builder create "$BUILDER_IMAGE" --config "$config" --pull-policy never
  # pack trusts builders it created; nothing else to configure.
}

for suite in $(stack_suites); do
  create_builder "$suite"
done
