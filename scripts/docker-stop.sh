#!/usr/bin/env bash
# Stop the dockerd that scripts/docker-setup.sh started, and remove what it leaves
# behind, so the machine is as it was: the docker0 and br-* bridges it created, its
# iptables rules and chains (IPv4 and IPv6), the FORWARD policy and ip_forward value it
# changed, leftover mounts under .docker/, and its socket.
#
# Usage: scripts/docker-stop.sh
#
# An engine this script did not start (a CI runner's, a developer's) is left alone.
# Images stay in .docker/engine/data (the build cache for the next run);
# `rm -rf .docker` after stopping removes them.
set -euo pipefail

# shellcheck source=scripts/docker-engine-paths.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker-engine-paths.sh"
STOP_TIMEOUT_S="${DOCKERD_STOP_TIMEOUT_S:-60}"

say() { printf 'docker-stop: %s\n' "$*" >&2; }

if [[ ! -f "$MARKER" ]]; then
  say "no dockerd started by docker-setup.sh; nothing to stop"
  exit 0
fi

is_our_dockerd() {
  local pid="$1"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "dockerd .*--data-root $ENGINE_DIR/data"
}

wait_gone() {
  local pid="$1" limit="$2" waited=0
  while kill -0 "$pid" 2>/dev/null; do
    (( waited >= limit )) && return 1
    sleep 1
    waited=$((waited + 1))
  done
}

pid="$(cat "$PID_FILE" 2>/dev/null || cat "$MARKER")"
if is_our_dockerd "$pid"; then
  say "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  if ! wait_gone "$pid" "$STOP_TIMEOUT_S"; then
    say "dockerd (pid $pid) still running after ${STOP_TIMEOUT_S}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || true
  fi
else
  say "dockerd (pid ${pid:-?}) is not running any more"
fi

# The containerd that dockerd manages exits with it; after a KILL it may not.
ctr_pid="$(cat "$ENGINE_DIR/run/containerd/containerd.pid" 2>/dev/null || true)"
if [[ -n "$ctr_pid" && -r "/proc/$ctr_pid/cmdline" ]] \
  && tr '\0' ' ' <"/proc/$ctr_pid/cmdline" | grep -q -- "$ENGINE_DIR/run"; then
  say "stopping dockerd's containerd (pid $ctr_pid)"
  kill -TERM "$ctr_pid" 2>/dev/null || true
  wait_gone "$ctr_pid" 20 || kill -KILL "$ctr_pid" 2>/dev/null || true
fi

# Mounts left under our state folder (overlay layers, netns, shm), deepest first.
awk -v d="$ENGINE_DIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "could not unmount $m"
done

# Bridges dockerd created (docker0 and user-defined br-<id>), unless they existed before.
links_before="$ENGINE_DIR/links.before"
ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | while read -r link; do
  [[ "$link" == docker0 || "$link" =~ ^br-[0-9a-f]{12}$ || "$link" =~ ^veth[0-9a-f]{7}$ ]] || continue
  if [[ -f "$links_before" ]] && grep -qx -- "$link" "$links_before"; then continue; fi
  say "deleting network link $link"
  ip link delete "$link" 2>/dev/null || true
done

# iptables: rules in the built-in chains that point at docker's chains or bridges, then
# docker's own chains.
clean_iptables() {
  local cmd="$1" table rules rule chains chain
  command -v "$cmd" >/dev/null 2>&1 || return 0
  for table in filter nat; do
    rules="$("$cmd" -t "$table" -S 2>/dev/null)" || continue
    while read -r rule; do
      [[ "$rule" == "-A "* && ! "$rule" == "-A DOCKER"* ]] || continue
      [[ "$rule" =~ DOCKER|docker0|br-[0-9a-f]{12} ]] || continue
      # The rule is a list of arguments, as iptables -S printed them (quotes included).
      eval "$cmd -t $table ${rule/#-A/-D}" 2>/dev/null || say "$cmd -t $table: could not delete: $rule"
    done <<<"$rules"
    chains="$(awk '$1 == "-N" && $2 ~ /^DOCKER/ {print $2}' <<<"$rules")"
    for chain in $chains; do
      "$cmd" -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $chains; do
      "$cmd" -t "$table" -X "$chain" 2>/dev/null || say "$cmd -t $table: could not delete chain $chain"
    done
  done
}
clean_iptables iptables
clean_iptables ip6tables

# Tables the nft backend created for dockerd, now empty, go too (needs the nft tool).
tables_before="$ENGINE_DIR/iptables_tables.before"
if [[ -f "$tables_before" ]] && command -v nft >/dev/null 2>&1; then
  for family in ip ip6; do
    for table in filter nat; do
      grep -qx "$family $table" "$tables_before" && continue
      nft list table "$family" "$table" >/dev/null 2>&1 || continue
      if ! nft list table "$family" "$table" | grep -qvE '^[[:space:]]*(table |chain |type |}|$)'; then
        nft delete table "$family" "$table" 2>/dev/null || true
      fi
    done
  done
fi

policy_before="$(cat "$ENGINE_DIR/forward_policy.before" 2>/dev/null || true)"
if [[ -n "$policy_before" ]] && command -v iptables >/dev/null 2>&1; then
  iptables -P FORWARD "$policy_before" 2>/dev/null || true
fi
forward_before="$(cat "$ENGINE_DIR/ip_forward.before" 2>/dev/null || true)"
if [[ -n "$forward_before" ]]; then
  echo "$forward_before" >/proc/sys/net/ipv4/ip_forward 2>/dev/null || true
fi

socket="$(cat "$ENGINE_DIR/socket" 2>/dev/null || true)"
if [[ -n "$socket" && -S "$socket" ]]; then
  rm -f "$socket"
fi

if [[ -f "$ENGINE_DIR/paths.created" ]]; then
  while read -r path; do
    case "$path" in
      /etc/docker/key.json) rm -f "$path" ;;
      /var/run/docker) rm -rf --one-file-system "$path" ;;
    esac
  done <"$ENGINE_DIR/paths.created"
fi

rm -f "$MARKER" "$PID_FILE" "$ENGINE_DIR/socket" "$ENGINE_DIR/links.before" "$ENGINE_DIR/paths.created" "$tables_before" \
  "$ENGINE_DIR/ip_forward.before" "$ENGINE_DIR/forward_policy.before"
say "stopped; machine network state restored"
