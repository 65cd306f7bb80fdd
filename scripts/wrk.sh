#!/usr/bin/env bash
# The HTTP load generator of the benchmarks: Debian's `wrk` (C, LuaJIT scripting).
#
#   scripts/wrk.sh ensure   # install it with apt-get when missing (needs root), else explain
#   scripts/wrk.sh path     # print the path of the wrk binary (exit 1 if missing)
set -euo pipefail

die() { echo "wrk.sh: $*" >&2; exit 1; }

ensure() {
    if command -v wrk >/dev/null 2>&1; then return 0; fi
    [ "$(id -u)" = 0 ] || die "wrk missing; run: sudo apt-get install -y wrk"
    echo "wrk.sh: installing wrk with apt-get ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends wrk >&2
    command -v wrk >/dev/null 2>&1 || die "wrk still missing after apt-get install"
}

case "${1:-}" in
    ensure) ensure ;;
    path) command -v wrk || exit 1 ;;
    *) echo "usage: $0 ensure|path" >&2; exit 2 ;;
esac
