# Make sure a Docker engine answers: install Debian's docker.io and start dockerd if needed.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ensure_docker() {
  if docker_ok; then info "Docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"; return; fi
  if ! command -v dockerd >/dev/null; then
    step "Installing the Docker engine (Debian docker.io)"
    apt_install docker docker.io containerd runc iptables
  fi
  step "Starting dockerd"
  # setsid: the daemon must outlive this script and the shell that runs it.
  as_root setsid dockerd >"$BLACKLODGE_CACHE/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    docker_ok && { info "dockerd is up"; return; }
    sleep 1
  done
  tail -n 20 "$BLACKLODGE_CACHE/dockerd.log" >&2 || true
  die "dockerd did not answer within 60 s" "see $BLACKLODGE_CACHE/dockerd.log" "fix the daemon error above (a stale /var/run/docker.pid is a common one: remove it) and re-run"
}

ensure_docker
