# A real OCI registry on loopback (Debian's docker-registry), for the daemon-less flows
# kpack and the Tekton buildpacks task use: builder and run image pulled from a registry,
# app image exported to it.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

registry_ok() { curl -fsS -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null; }

ensure_registry() {
  if registry_ok; then info "registry answers at $REGISTRY"; return; fi
  if ! command -v docker-registry >/dev/null; then
    step "Installing the OCI registry (Debian docker-registry)"
    apt_install registry docker-registry
  fi
  # The package may start its own service on :5000 (all interfaces, with htpasswd auth);
  # this bench runs its own on loopback only, without auth.
  as_root sh -c 'command -v service >/dev/null && service docker-registry stop >/dev/null 2>&1 || true'
  local config="$BLACKLODGE_CACHE/registry/config.yml"
  mkdir -p "$BLACKLODGE_CACHE/registry/data"
  cat >"$config" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $BLACKLODGE_CACHE/registry/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
YAML
  step "Starting the OCI registry on $REGISTRY"
  setsid docker-registry serve "$config" >"$BLACKLODGE_CACHE/registry.log" 2>&1 < /dev/null &
  for _ in $(seq 1 30); do
    registry_ok && return
    sleep 0.5
  done
  tail -n 20 "$BLACKLODGE_CACHE/registry.log" >&2 || true
  die "the registry did not start on $REGISTRY" "see $BLACKLODGE_CACHE/registry.log" "free port $REGISTRY_PORT (or set BLACKLODGE_REGISTRY_PORT) and re-run"
}

ensure_registry
