#!/usr/bin/env bash
# Install what the browser test (tests/web/) needs: Debian's Chromium and its chromedriver.
#
# Usage: scripts/local-browser-deps.sh
#
# - Both already on PATH (chromium + chromedriver): nothing to do.
# - Otherwise, as root with apt-get: `apt-get update` once, then
#   `apt-get install -y --no-install-recommends chromium chromium-driver`.
# Prints the two paths on stdout (`chromium=...`, `chromedriver=...`).
# Exit status: 0 ready; 3 they cannot be installed here (not root, no apt-get, the
# packages cannot be fetched): the browser test skips with the printed reason.
set -euo pipefail

say() { printf 'local-browser-deps: %s\n' "$*" >&2; }
unavailable() { say "NO BROWSER: $*"; exit 3; }

find_bins() {
  CHROMIUM="$(command -v chromium || command -v chromium-browser || true)"
  DRIVER="$(command -v chromedriver || true)"
  [[ -n "$CHROMIUM" && -n "$DRIVER" ]]
}

if ! find_bins; then
  command -v apt-get >/dev/null 2>&1 || unavailable "chromium/chromedriver are not on PATH and there is no apt-get"
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    else
      unavailable "chromium/chromedriver are not on PATH and installing them needs root (apt-get install chromium chromium-driver)"
    fi
  else
    SUDO=()
  fi
  export DEBIAN_FRONTEND=noninteractive
  say "installing chromium and chromium-driver with apt-get (once)"
  "${SUDO[@]}" apt-get update -qq >&2 || unavailable "apt-get update failed"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2 \
    || unavailable "apt-get install chromium chromium-driver failed"
  find_bins || unavailable "chromium or chromedriver still not on PATH after apt-get install"
fi
echo "chromium=$CHROMIUM"
echo "chromedriver=$DRIVER"
