#!/usr/bin/env bash
# Local development stack (used by `make run`):
#   Redis (scripts/redis.sh) -> db upgrade -> seed-demo -> RQ worker + dev SMTP
#   server in the background -> Flask dev server on http://127.0.0.1:$APP_PORT.
# Ctrl-C stops the Flask server, the worker and the mail server (Redis keeps
# running; `make stop` or `scripts/redis.sh stop` stops it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
APP_PORT="${APP_PORT:-5000}"
mkdir -p instance instance/mail

bash scripts/redis.sh start
REDIS_URL="$(bash scripts/redis.sh url)"
export REDIS_URL

"$PY" -m flask --app app db upgrade
"$PY" -m flask --app app seed-demo

PIDS=()
STOPPING="$ROOT/instance/.dev-stopping"
rm -f "$STOPPING"

# Run a command again whenever it exits (a crash the process could not survive on its own), until
# cleanup asks everything to stop. Production does the same with systemd's Restart=always.
supervise() {
    while [ ! -e "$STOPPING" ]; do
        "$@" &
        local child=$!
        trap 'kill -TERM $child 2>/dev/null' TERM
        wait "$child" || true
        wait "$child" 2>/dev/null || true
        [ -e "$STOPPING" ] && break
        echo "dev: '$*' exited; restarting it in 2 s" >&2
        sleep 2
    done
}

cleanup() {
    trap - EXIT INT TERM
    touch "$STOPPING"
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    # RQ does a warm shutdown on SIGTERM (finishes the current job); give up after 10s.
    local i
    for i in $(seq 1 100); do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -f "$STOPPING"
    echo "dev: stopped worker and mail server"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

supervise "$PY" -m gamify.worker >>instance/worker.log 2>&1 &
PIDS+=($!)
supervise "$PY" -m gamify.devmail >>instance/devmail.log 2>&1 &
PIDS+=($!)
echo "dev: RQ worker pid ${PIDS[0]} (log instance/worker.log), dev mail pid ${PIDS[1]} (log instance/devmail.log, messages in instance/mail/)"

sleep 1
for pid in "${PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "dev: a background process exited early; see instance/worker.log and instance/devmail.log" >&2
        tail -n 20 instance/worker.log instance/devmail.log >&2 || true
        exit 1
    fi
done

echo "dev: serving http://127.0.0.1:$APP_PORT (Ctrl-C to stop)"
"$PY" -m flask --app app run --host 127.0.0.1 --port "$APP_PORT"
