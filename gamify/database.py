"""PostgreSQL at scale: connection pool settings, PgBouncer safety and reads from a replica.

**Pools.** Every process (a gunicorn sync worker, an RQ work horse) runs one unit of work at a time, so it
needs one primary connection and, with a replica, one replica connection; the pool holds `DATABASE_POOL_SIZE`
(2) with `DATABASE_MAX_OVERFLOW` (2) more for the odd second connection (the after-commit work, a health
probe), waits `DATABASE_POOL_TIMEOUT` (10 s, under gunicorn's 30 s kill) for one (and
`DATABASE_CONNECT_TIMEOUT`, 5 s, for a new one), and replaces connections older than `DATABASE_POOL_RECYCLE`
(30 min: before a proxy's or PgBouncer's idle cut). PostgreSQL's connections = processes x (pool size +
overflow) x engines: size `max_connections` (or PgBouncer's `default_pool_size`) from that (deploy/README.md).

**Statement timeout.** `DATABASE_STATEMENT_TIMEOUT_MS` (15 s) is sent as a startup option, so a runaway
query is cancelled by the server before gunicorn kills its worker; jobs (rebuilds, backfills over every
player) get `DATABASE_JOB_STATEMENT_TIMEOUT_MS` (0: none) in `python -m gamify.worker`.

**PgBouncer in transaction mode** (`DATABASE_PGBOUNCER=1`): consecutive transactions of one client may
run on different server connections, so nothing may outlive a transaction. gamify keeps no session
state (its advisory locks are `pg_try_advisory_xact_lock`, it issues no SET, LISTEN or temporary tables);
what must change is psycopg's prepared statements (named, per server connection): `prepare_threshold`
becomes None. PgBouncer refuses the `options` startup parameter, so the statement timeout is not sent:
set it on the role (`ALTER ROLE gamify SET statement_timeout = '15s'`) or in PgBouncer's `connect_query`.

**Replica.** `DATABASE_REPLICA_URL` (unset: everything reads the primary) takes the read-only pages that
tolerate a second of lag: leaderboard pages, the admin's analytics, exports. They run inside
`replica_reads()`; in it, SELECTs of `db.session` go to the replica engine, except when reading there
would be wrong: a SELECT ... FOR UPDATE/SHARE, while the session flushes or after it wrote in this
transaction (read your own writes), inside an event's transaction (`event_transaction()`: the pipeline
must see committed state, never a lagging copy), and within `primary_reads()` (a rebuild of Redis from
SQL must not write a stale copy). After a connection error the replica rests for REPLICA_REST_SECONDS
and reads go to the primary meanwhile.
"""

from __future__ import annotations

import contextvars
import logging
import time
from contextlib import contextmanager
from typing import Iterator, Optional

from flask import current_app, has_app_context
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql import Select

from .after_commit import Session as AfterCommitSession

log = logging.getLogger(__name__)

REPLICA_KEY = "gamify.replica_engine"
_WROTE = "gamify.wrote"  # session.info: this transaction wrote, or may have (reads stay on the primary)
_EVENT_TX = "gamify.event_tx"  # session.info: an event's transaction runs (never the replica)
REPLICA_REST_SECONDS = 30.0

# "replica" inside replica_reads(), "primary" inside primary_reads() (which wins when nested).
_reads: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("gamify_reads", default=None)
_replica_down_until = 0.0


def engine_options(config: dict, url: str, job: bool = False) -> dict:
    """SQLAlchemy engine options for `url` from the DATABASE_* settings (PostgreSQL only: SQLite keeps
    SQLAlchemy's own pool, one file and WAL)."""
    if make_url(url).get_backend_name() != "postgresql":
        return {}
    options = {
        "pool_size": int(config.get("DATABASE_POOL_SIZE", 2)),
        "max_overflow": int(config.get("DATABASE_MAX_OVERFLOW", 2)),
        "pool_timeout": float(config.get("DATABASE_POOL_TIMEOUT", 10)),
        "pool_recycle": int(config.get("DATABASE_POOL_RECYCLE", 1800)),
    }
    # libpq's own wait for a new connection: an unreachable (blackholed) server fails a request, and a
    # /readyz probe, in seconds instead of the TCP timeout's minutes.
    connect_args: dict = {"connect_timeout": int(config.get("DATABASE_CONNECT_TIMEOUT", 5))}
    key = "DATABASE_JOB_STATEMENT_TIMEOUT_MS" if job else "DATABASE_STATEMENT_TIMEOUT_MS"
    timeout = int(config.get(key) or 0)
    if config.get("DATABASE_PGBOUNCER"):
        # Named prepared statements live on one server connection; PgBouncer (transaction mode) hands
        # the next transaction another one, where the name is unknown (or another statement's).
        connect_args["prepare_threshold"] = None
    elif timeout > 0:
        connect_args["options"] = f"-c statement_timeout={timeout}"
    options["connect_args"] = connect_args
    return options


def prepare_threshold(config: dict) -> Optional[int]:
    """psycopg prepares a statement on its second execution (default: fifth): the event pipeline runs a
    handful of fixed statements whose planning would otherwise cost more than running them. None
    (never) behind PgBouncer."""
    return None if config.get("DATABASE_PGBOUNCER") else 1


def init_app(app, configure_engine) -> None:
    """Create the replica engine when DATABASE_REPLICA_URL is set (`configure_engine(engine)` adds the
    same connection hooks as the primary's)."""
    url = app.config.get("DATABASE_REPLICA_URL")
    if not url:
        app.extensions.pop(REPLICA_KEY, None)
        return
    options = {
        **{k: v for k, v in app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}).items()},
        **engine_options(app.config, url, job=bool(app.config.get("GAMIFY_JOB_PROCESS"))),
    }
    engine = create_engine(url, **options)
    configure_engine(engine)

    @event.listens_for(engine, "handle_error")
    def _rest_on_disconnect(context):
        global _replica_down_until
        if context.is_disconnect or context.connection is None:
            _replica_down_until = time.monotonic() + REPLICA_REST_SECONDS
            log.warning(
                "replica unreachable (%s); reading the primary for %.0f s",
                context.original_exception,
                REPLICA_REST_SECONDS,
            )

    app.extensions[REPLICA_KEY] = engine


def replica_engine() -> Optional[Engine]:
    if not has_app_context():
        return None
    return current_app.extensions.get(REPLICA_KEY)


def replica_resting() -> bool:
    return time.monotonic() < _replica_down_until


def reset_replica_rest() -> None:
    global _replica_down_until
    _replica_down_until = 0.0


@contextmanager
def replica_reads() -> Iterator[None]:
    """SELECTs of db.session in this block may read the replica (see the module's rules)."""
    token = _reads.set("primary" if _reads.get() == "primary" else "replica")
    try:
        yield
    finally:
        _reads.reset(token)


@contextmanager
def primary_reads() -> Iterator[None]:
    """Every read in this block goes to the primary, even inside replica_reads()."""
    token = _reads.set("primary")
    try:
        yield
    finally:
        _reads.reset(token)


def event_transaction(session: OrmSession) -> None:
    """Mark the session's current transaction as an event's: no read of it goes to the replica."""
    session.info[_EVENT_TX] = True


def _replica_for(session: OrmSession, clause) -> Optional[Engine]:
    if _reads.get() != "replica" or session._flushing or session.info.get(_WROTE) or session.info.get(_EVENT_TX):
        return None
    if not isinstance(clause, Select) or clause._for_update_arg is not None:
        return None
    engine = replica_engine()
    if engine is None or replica_resting():
        return None
    return engine


class RoutingSession(AfterCommitSession):
    """db.session's class: the after-commit session whose SELECTs may go to the replica."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None:
            replica = _replica_for(self, clause)
            if replica is not None:
                return replica
            if not isinstance(clause, Select):
                # A write, a text() statement or session.connection() (the pipeline's plain statements):
                # what follows in this transaction may depend on it, so it reads the primary.
                self.info[_WROTE] = True
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


@event.listens_for(OrmSession, "after_flush")
def _wrote(session: OrmSession, _ctx) -> None:
    session.info[_WROTE] = True


@event.listens_for(OrmSession, "after_transaction_end")
def _ended(session: OrmSession, transaction) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_WROTE, None)
        session.info.pop(_EVENT_TX, None)
