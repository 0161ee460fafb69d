#!/usr/bin/env bash
# wrk, the HTTP load generator of the serving and soak benchmarks. Prints wrk's path as its last
# line. In order: wrk on PATH or in .tools/bin already; Debian's package when root or `sudo -n`
# can install it; else built with make into .tools/bin from Debian's source tarballs of wrk and
# LuaJIT (pinned by sha256; from the mirror apt uses: Debian's archive is reachable where wrk's
# own home may not be).
# WRK_FROM_SOURCE=1 skips the first two (a developer without root, or testing this path);
# TOOLS_DIR puts the build elsewhere than .tools (its bin/).
# The source build needs cc, make and OpenSSL headers (Debian: libssl-dev).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="${TOOLS_DIR:-$ROOT/.tools}"
BIN="$TOOLS/bin"
WRK_TARBALL="w/wrk/wrk_4.1.0.orig.tar.gz"
WRK_SHA256="d8f1ba8b70ae5e10aef63ef4d5b6520bc0da103f7f1c59c79f50e2efd6810f8f"
# Debian strips the LuaJIT copy that upstream wrk bundles (deps/); this is the LuaJIT it builds against.
LUAJIT_TARBALL="l/luajit/luajit_2.1.0~beta3+git20220320+dfsg.orig.tar.gz"
LUAJIT_SHA256="b4d18d2c5e663682bc7f473797e3ceaca8193e112824a5bdfa3e468d98618678"

say() { echo "install-wrk: $*" >&2; }

if [ "${WRK_FROM_SOURCE:-0}" != 1 ]; then
  if command -v wrk >/dev/null 2>&1; then command -v wrk; exit 0; fi
  if [ -x "$BIN/wrk" ]; then echo "$BIN/wrk"; exit 0; fi
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  if { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; } && command -v apt-get >/dev/null 2>&1; then
    say "apt-get install wrk"
    if { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends wrk >/dev/null; } \
        && command -v wrk >/dev/null 2>&1; then
      command -v wrk
      exit 0
    fi
    say "apt-get could not install wrk; building it from source instead"
  fi
fi

for tool in cc make curl tar sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || { say "building wrk needs $tool (Debian: apt-get install build-essential curl)"; exit 1; }
done
if ! echo '#include <openssl/ssl.h>' | cc -E -x c - >/dev/null 2>&1; then
  say "building wrk needs OpenSSL headers (Debian: apt-get install libssl-dev), or install wrk itself: apt-get install wrk"
  exit 1
fi

# the Debian mirror apt is configured with (a local mirror included); DEBIAN_POOL overrides it
mirror="$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
  | grep -v -- '-security' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ')" || true
POOL="${DEBIAN_POOL:-${mirror%/}/pool/main}"
if [ "$POOL" = "/pool/main" ]; then
  say "no Debian mirror in apt's sources: set DEBIAN_POOL to a mirror's pool/main URL, or install wrk: apt-get install wrk"
  exit 1
fi

build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
fetch() {  # fetch TARBALL SHA256 DIR: unpacked into $build/DIR, without the tarball's top folder if it has one
  local name
  name="$(basename "$1")"
  say "downloading $POOL/$1"
  curl -fsSL --retry 3 -o "$build/$name" "$POOL/$1"
  echo "$2  $build/$name" | sha256sum -c --quiet - || { say "$name: checksum mismatch"; exit 1; }
  mkdir -p "$build/$3"
  tar -xzf "$build/$name" -C "$build/$3"
  local top=("$build/$3"/*)
  if [ "${#top[@]}" -eq 1 ] && [ -d "${top[0]}" ]; then mv "${top[0]}"/* "${top[0]}"/.[!.]* "$build/$3"/ 2>/dev/null || true; rmdir "${top[0]}" 2>/dev/null || true; fi
}
fetch "$LUAJIT_TARBALL" "$LUAJIT_SHA256" luajit-src
fetch "$WRK_TARBALL" "$WRK_SHA256" wrk-src
jobs="$(nproc 2>/dev/null || echo 2)"
luajit_src="$build/luajit-src"
say "building LuaJIT"
# static only: wrk links it in, so .tools/bin/wrk needs no LD_LIBRARY_PATH
make -s -C "$luajit_src" -j"$jobs" PREFIX="$build/luajit" BUILDMODE=static >/dev/null
# headers straight into include/, where wrk's WITH_LUAJIT looks for them
make -s -C "$luajit_src" PREFIX="$build/luajit" INSTALL_INC="$build/luajit/include" install >/dev/null
# a development release installs luajit-VERSION only; wrk runs `luajit -b` to embed its Lua code
if [ ! -e "$build/luajit/bin/luajit" ]; then
  for exe in "$build"/luajit/bin/luajit-*; do ln -s "$exe" "$build/luajit/bin/luajit"; break; done
fi
say "building wrk"
# wrk's Makefile takes prebuilt LuaJIT and OpenSSL through WITH_*; it then also wants the luajit
# binary (to compile its Lua sources to bytecode) on PATH.
PATH="$build/luajit/bin:$PATH" make -s -C "$build/wrk-src" -j"$jobs" WITH_LUAJIT="$build/luajit" WITH_OPENSSL=/usr VER=4.1.0 >/dev/null
mkdir -p "$BIN"
install -m 0755 "$build/wrk-src/wrk" "$BIN/wrk"
"$BIN/wrk" --version 2>&1 | head -1 >&2 || true
echo "$BIN/wrk"
