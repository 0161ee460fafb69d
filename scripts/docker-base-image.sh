#!/usr/bin/env bash
# Build a local Python 3.11 base image from Debian bookworm, for machines that can not
# pull python:3.11-slim-bookworm from a registry. Pass it to the image builds as
# BASE_IMAGE (scripts/docker-build.sh does when BASE_IMAGE names it).
#
# Usage: scripts/docker-base-image.sh [TAG]      (default credit-score-base:bookworm)
#
# debootstrap --variant=minbase bookworm with python3, python3-venv and ca-certificates,
# security updates applied, docs/man pages/apt lists removed, then `docker import`.
# Nothing happens when TAG exists already; the root file system tarball is cached in
# .docker/cache/, so a wiped engine re-imports it in seconds. Set DEBIAN_MIRROR /
# DEBIAN_SECURITY_MIRROR for a local mirror; BASE_SECURITY_UPGRADE=0 skips the upgrade.
set -euo pipefail

# shellcheck source=scripts/docker-engine-paths.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker-engine-paths.sh"
TAG="${1:-${BASE_IMAGE_TAG:-credit-score-base:bookworm}}"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
PACKAGES="python3,python3-venv,ca-certificates"
CACHE_DIR="$STATE_DIR/cache"
CACHE="$CACHE_DIR/$(printf '%s' "$TAG" | tr '/:' '__').rootfs.tar.gz"

say() { printf 'docker-base-image: %s\n' "$*" >&2; }

mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/base-image.lock"
flock 9  # one build at a time; a second caller then finds the tag
if docker image inspect "$TAG" >/dev/null 2>&1; then
  say "$TAG exists; nothing to do"
  exit 0
fi

build_rootfs() {
  [[ "$(id -u)" == 0 ]] || { say "debootstrap needs root"; return 1; }
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends debootstrap >&2 \
      || { apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 \
        && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends debootstrap >&2; }
  fi
  mkdir -p "$CACHE_DIR"
  local rootfs
  rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
  # shellcheck disable=SC2064  # expand now: the trap must remove this very folder
  trap "umount '$rootfs/proc' 2>/dev/null || true; rm -rf --one-file-system '$rootfs'" EXIT

  say "debootstrap --variant=minbase $SUITE ($PACKAGES) from $MIRROR"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE_DIR/debootstrap.log" >&2; return 1; }

  cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SOURCES
  # Keep images lean when they install Debian packages later (as the python images do).
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-minimal" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
DPKG
  cat >"$rootfs/etc/apt/apt.conf.d/docker-minimal" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT

  if [[ "${BASE_SECURITY_UPGRADE:-1}" == 1 ]]; then
    say "applying $SUITE-updates and $SUITE-security"
    mount -t proc proc "$rootfs/proc"
    chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
      'apt-get update -qq && apt-get -y -qq upgrade' >>"$CACHE_DIR/debootstrap.log" 2>&1 \
      || { umount "$rootfs/proc"; tail -n 30 "$CACHE_DIR/debootstrap.log" >&2; return 1; }
    umount "$rootfs/proc"
  fi

  # No host traces, no caches, no docs.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
    "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/* "$rootfs"/root/.cache \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/lintian/*
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  find "$rootfs/usr/lib/python3"* -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
  : >"$rootfs/etc/resolv.conf"
  : >"$rootfs/etc/hostname"
  rm -f "$rootfs/etc/machine-id" && : >"$rootfs/etc/machine-id"

  tar --numeric-owner --xattrs -C "$rootfs" -czf "$CACHE.tmp" .
  mv "$CACHE.tmp" "$CACHE"
  rm -rf --one-file-system "$rootfs"
  trap - EXIT
  say "root file system cached in $CACHE ($(du -h "$CACHE" | cut -f1))"
}

if [[ ! -s "$CACHE" ]]; then
  build_rootfs
fi

say "docker import $CACHE as $TAG"
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "debootstrap --variant=minbase $SUITE + $PACKAGES" \
  "$CACHE" "$TAG" >/dev/null
docker image ls "$TAG" >&2
