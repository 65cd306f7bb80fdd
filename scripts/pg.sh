#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests and benchmarks.
#
#   scripts/pg.sh start    # initdb (first time) + start on 127.0.0.1:$PG_PORT, create $PG_DB
#   scripts/pg.sh stop     # fast shutdown (keeps the data dir)
#   scripts/pg.sh status   # exit 0 if the cluster is running
#   scripts/pg.sh url      # print the SQLAlchemy URL
#   scripts/pg.sh destroy  # stop and delete the data dir
#
# Environment: PG_PORT (default 55432), PG_DATA (default /tmp/gamify-pg),
#              PG_DB (default gamify_test).
# The server runs as the `postgres` OS user (root cannot run postgres); auth is
# `trust` on 127.0.0.1 only. Data is not durable (fsync=off): never use for real data.
set -euo pipefail

PORT="${PG_PORT:-55432}"
DATA="${PG_DATA:-/tmp/gamify-pg}"
DB="${PG_DB:-gamify_test}"
LOG="$DATA.log"
URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"

die() { echo "pg.sh: $*" >&2; exit 1; }

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
    if running; then
        echo "pg: already running ($DATA, port $(head -4 "$DATA/postmaster.pid" | tail -1))"
    else
        init_cluster
        touch "$LOG"
        if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$LOG"; fi
        if ! as_pg "$PGBIN/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 60 \
                -o "-p $PORT -k $DATA" >/dev/null; then
            tail -n 30 "$LOG" >&2 || true
            die "pg_ctl start failed (log: $LOG)"
        fi
        echo "pg: started on 127.0.0.1:$PORT (data $DATA, log $LOG)"
    fi
    local port
    port="$(head -4 "$DATA/postmaster.pid" | tail -1)"
    [ "$port" = "$PORT" ] || die "cluster in $DATA runs on port $port, not $PORT; run '$0 stop' first"
    if [ "$(as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -XtAc \
            "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
        as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
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
    url) echo "$URL" ;;
    destroy) stop; rm -rf "$DATA" "$LOG"; echo "pg: removed $DATA" ;;
    *) echo "usage: $0 start|stop|status|url|destroy" >&2; exit 2 ;;
esac
