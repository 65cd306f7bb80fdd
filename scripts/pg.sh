#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests and benchmarks.
#
#   scripts/pg.sh start    # initdb (first time) + start on 127.0.0.1:$PG_PORT, create $PG_DB
#   scripts/pg.sh stop     # fast shutdown (keeps the data dir)
#   scripts/pg.sh status   # exit 0 if the cluster is running
#   scripts/pg.sh url      # print the SQLAlchemy URL
#   scripts/pg.sh destroy  # stop and delete the data dir
#
# Environment: PG_PORT (default: 55432, or the next free port when something else
#              listens there; the port in use is kept in $PG_DATA.port for `url`),
#              PG_DATA (default /tmp/gamify-pg), PG_DB (default gamify_test).
# The server runs as the `postgres` OS user (root cannot run postgres); auth is
# `trust` on 127.0.0.1 only. Data is not durable (fsync=off): never use for real data.
set -euo pipefail

DATA="${PG_DATA:-/tmp/gamify-pg}"
DB="${PG_DB:-gamify_test}"
LOG="$DATA.log"
PORT_FILE="$DATA.port"
DEFAULT_PORT=55432

die() { echo "pg.sh: $*" >&2; exit 1; }

# Something (another cluster, another checkout's tests) accepts connections on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The port of the running cluster, else the one it last ran on, else the default.
current_port() {
    if [ -f "$DATA/postmaster.pid" ] && running; then
        head -4 "$DATA/postmaster.pid" | tail -1
    elif [ -n "${PG_PORT:-}" ]; then
        echo "$PG_PORT"
    elif [ -f "$PORT_FILE" ]; then
        cat "$PORT_FILE"
    else
        echo "$DEFAULT_PORT"
    fi
}

# An explicit PG_PORT is used as given; otherwise the default port, or the next free one
# when something else listens there (a fixed port made CI fail on a shared machine).
choose_port() {
    if [ -n "${PG_PORT:-}" ]; then echo "$PG_PORT"; return 0; fi
    local p
    for p in $(seq "$DEFAULT_PORT" $((DEFAULT_PORT + 200))); do
        if ! port_busy "$p"; then echo "$p"; return 0; fi
    done
    die "no free port in $DEFAULT_PORT..$((DEFAULT_PORT + 200))"
}

find_bin() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}

ensure_installed() {
    if PGBIN="$(find_bin)"; then return 0; fi
    [ "$(id -u)" = 0 ] || die "PostgreSQL server binaries missing; run: sudo apt-get install -y postgresql"
    echo "pg.sh: installing PostgreSQL with apt-get ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends postgresql >&2
    PGBIN="$(find_bin)" || die "PostgreSQL binaries still missing after apt-get install"
}

# Run a command as the postgres OS user (or as ourselves if we are not root).
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' OS user (is the postgresql package installed?)"
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

running() {
    [ -f "$DATA/PG_VERSION" ] || return 1
    PGBIN="${PGBIN:-$(find_bin)}" || return 1
    as_pg "$PGBIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

init_cluster() {
    local want
    want="$(basename "$(dirname "$PGBIN")")"
    if [ -f "$DATA/PG_VERSION" ]; then
        [ "$(cat "$DATA/PG_VERSION")" = "$want" ] && return 0
        echo "pg: $DATA was made by PostgreSQL $(cat "$DATA/PG_VERSION"), server is $want: re-initialising" >&2
    fi
    rm -rf "$DATA"
    mkdir -p "$DATA"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DATA"; fi
    chmod 700 "$DATA"
    as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null \
        || as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --no-locale >/dev/null
    as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<CONF

# --- gamify throwaway test cluster (scripts/pg.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DATA'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
}

start() {
    ensure_installed
    local port
    if running; then
        port="$(head -4 "$DATA/postmaster.pid" | tail -1)"
        echo "pg: already running ($DATA, port $port)"
        if [ -n "${PG_PORT:-}" ] && [ "$port" != "$PG_PORT" ]; then
            die "cluster in $DATA runs on port $port, not $PG_PORT; run '$0 stop' first"
        fi
    else
        init_cluster
        port="$(choose_port)"
        touch "$LOG"
        if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$LOG"; fi
        if ! as_pg "$PGBIN/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 60 \
                -o "-p $port -k $DATA" >/dev/null; then
            tail -n 30 "$LOG" >&2 || true
            die "pg_ctl start failed (log: $LOG)"
        fi
        echo "pg: started on 127.0.0.1:$port (data $DATA, log $LOG)"
    fi
    echo "$port" > "$PORT_FILE"
    if [ "$(as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -XtAc \
            "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
        as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U postgres "$DB"
        echo "pg: created database $DB"
    fi
}

stop() {
    if running; then
        as_pg "$PGBIN/pg_ctl" stop -D "$DATA" -m fast -w >/dev/null
        echo "pg: stopped ($DATA)"
    else
        echo "pg: not running ($DATA)"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if running; then echo "pg: running ($DATA)"; else echo "pg: not running ($DATA)"; exit 1; fi ;;
    url) echo "postgresql+psycopg://postgres@127.0.0.1:$(current_port)/$DB" ;;
    destroy) stop; rm -rf "$DATA" "$LOG" "$PORT_FILE"; echo "pg: removed $DATA" ;;
    *) echo "usage: $0 start|stop|status|url|destroy" >&2; exit 2 ;;
esac
