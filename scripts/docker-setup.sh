#!/usr/bin/env bash
# Make a Docker engine available for the container tier (tests/containers, image builds).
#
# Usage: scripts/docker-setup.sh
#
# - A running engine (`docker info` answers; DOCKER_HOST is honoured) is reused as is.
# - Otherwise, as root: installs Debian's docker.io when dockerd is missing
#   (apt-get update first), then starts dockerd with its data root, exec root, pid
#   file and log under the gitignored .docker/ folder of the repository and waits
#   until it answers. scripts/docker-stop.sh stops that daemon (by its pid) and
#   removes what it leaves behind (bridges, iptables chains, ip_forward).
#
# Prints one word on stdout: `reused` (an engine was answering) or `started` (this call
# started dockerd; the caller stops it with scripts/docker-stop.sh).
# Exit status: 0 engine ready; 3 no engine can be installed here (the tests skip with
# the printed reason); anything else is a failure.
set -euo pipefail

# shellcheck source=scripts/docker-engine-paths.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker-engine-paths.sh"
READY_TIMEOUT_S="${DOCKERD_READY_TIMEOUT_S:-90}"

say() { printf 'docker-setup: %s\n' "$*" >&2; }
unavailable() { say "NO ENGINE: $*"; exit 3; }

engine_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

wait_for_engine() {
  local pid="$1" waited=0
  until engine_answers; do
    if ! pid_alive "$pid"; then
      say "dockerd (pid $pid) exited; last lines of $LOG_FILE:"
      tail -n 30 "$LOG_FILE" >&2 || true
      return 1
    fi
    if (( waited >= READY_TIMEOUT_S )); then
      say "dockerd (pid $pid) did not answer within ${READY_TIMEOUT_S}s; last lines of $LOG_FILE:"
      tail -n 30 "$LOG_FILE" >&2 || true
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

# One caller at a time (parallel test sessions, make targets).
mkdir -p "$ENGINE_DIR"
exec 9>"$ENGINE_DIR/setup.lock"
flock 9

# 1. An engine that answers is reused (a CI runner's, a developer's, or ours from before).
if engine_answers; then
  if [[ -f "$PID_FILE" ]] && pid_alive "$(cat "$PID_FILE")"; then
    say "reusing the dockerd this script started (pid $(cat "$PID_FILE"))"
  else
    say "reusing the running Docker engine ($(docker info --format '{{.ServerVersion}}' 2>/dev/null || echo '?'))"
  fi
  echo reused
  exit 0
fi

# 2. Ours is starting already (another caller): wait for it.
if [[ -f "$PID_FILE" ]] && pid_alive "$(cat "$PID_FILE")"; then
  say "dockerd started earlier (pid $(cat "$PID_FILE")) is not answering yet; waiting"
  wait_for_engine "$(cat "$PID_FILE")" || exit 1
  echo reused
  exit 0
fi

# 3. Install and start one.
[[ "$(id -u)" == 0 ]] || unavailable "no running Docker engine, and starting one needs root (running as uid $(id -u))"

if ! command -v dockerd >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || unavailable "dockerd is not installed and there is no apt-get to install docker.io"
  say "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 \
    || unavailable "apt-get update failed"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends docker.io iptables >&2 \
    || unavailable "apt-get install docker.io failed"
fi
command -v dockerd >/dev/null 2>&1 || unavailable "dockerd still missing after installing docker.io"
command -v docker >/dev/null 2>&1 || unavailable "the docker client is missing"

# The socket: the one DOCKER_HOST names (unix only), else the standard one, so that a
# plain `docker` finds the engine.
socket="/var/run/docker.sock"
if [[ -n "${DOCKER_HOST:-}" ]]; then
  [[ "$DOCKER_HOST" == unix://* ]] || unavailable "DOCKER_HOST=$DOCKER_HOST does not answer and is not a local unix socket"
  socket="${DOCKER_HOST#unix://}"
fi
if [[ -S "$socket" ]]; then
  # A socket nobody answers on (a daemon that died): dockerd would refuse to start.
  say "removing stale socket $socket"
  rm -f "$socket"
fi

mkdir -p "$ENGINE_DIR/data" "$ENGINE_DIR/run"
chmod 0711 "$ENGINE_DIR"

# Remember what the network looked like, so docker-stop.sh can put it back.
cat /proc/sys/net/ipv4/ip_forward >"$ENGINE_DIR/ip_forward.before" 2>/dev/null || true
ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' >"$ENGINE_DIR/links.before" || true
if command -v iptables >/dev/null 2>&1; then
  iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" {print $3}' >"$ENGINE_DIR/forward_policy.before" || true
  # With the nft backend, the tables dockerd's rules live in may not exist yet.
  { iptables-save 2>/dev/null | sed -n 's/^\*/ip /p'; ip6tables-save 2>/dev/null | sed -n 's/^\*/ip6 /p'; } \
    >"$ENGINE_DIR/iptables_tables.before" || true
fi
printf '%s\n' "$socket" >"$ENGINE_DIR/socket"
# Files dockerd creates outside its roots (20.10: the trust key; the plugin folder).
: >"$ENGINE_DIR/paths.created"
for path in /etc/docker/key.json /var/run/docker; do
  [[ -e "$path" ]] || printf '%s\n' "$path" >>"$ENGINE_DIR/paths.created"
done

say "starting dockerd (data root $ENGINE_DIR/data, log $LOG_FILE)"
# setsid: own session and process group, so it outlives this script and the caller's
# terminal; docker-stop.sh stops it by the pid in $PID_FILE.
setsid dockerd 9>&- \
  --data-root "$ENGINE_DIR/data" \
  --exec-root "$ENGINE_DIR/run" \
  --pidfile "$PID_FILE" \
  --host "unix://$socket" \
  >"$LOG_FILE" 2>&1 </dev/null &
pid=$!
printf '%s\n' "$pid" >"$MARKER"

if ! wait_for_engine "$pid"; then
  "$REPO_ROOT/scripts/docker-stop.sh" || true
  exit 1
fi
say "dockerd ready (pid $pid, $(docker info --format '{{.ServerVersion}} {{.Driver}}' 2>/dev/null))"
echo started
