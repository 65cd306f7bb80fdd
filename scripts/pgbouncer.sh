#!/usr/bin/env bash
# PgBouncer for the transaction-mode test (tests/integration/test_pgbouncer.py starts and stops its own
# pgbouncer process on loopback; this only makes sure the binary is there).
#
#   scripts/pgbouncer.sh ensure   # install Debian's pgbouncer (as root) when missing; print its path
#   scripts/pgbouncer.sh path     # print the binary's path, exit 1 when missing
set -euo pipefail

find_bin() {
    local b
    for b in /usr/sbin/pgbouncer /usr/bin/pgbouncer "$(command -v pgbouncer 2>/dev/null || true)"; do
        if [ -n "$b" ] && [ -x "$b" ]; then echo "$b"; return 0; fi
    done
    return 1
}

case "${1:-}" in
    ensure)
        if ! find_bin >/dev/null; then
            [ "$(id -u)" = 0 ] || { echo "pgbouncer.sh: missing; run: sudo apt-get install -y pgbouncer" >&2; exit 1; }
            export DEBIAN_FRONTEND=noninteractive
            apt-get install -y -q --no-install-recommends pgbouncer >&2 \
                || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends pgbouncer >&2; }
            # The package enables a system-wide service on port 6432; the tests run their own.
            if command -v systemctl >/dev/null 2>&1; then systemctl disable --now pgbouncer >/dev/null 2>&1 || true; fi
        fi
        find_bin
        ;;
    path) find_bin ;;
    *) echo "usage: $0 ensure|path" >&2; exit 2 ;;
esac
