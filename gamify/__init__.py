"""gamify: a self-hostable gamification platform (streaks, achievements, points, energy, leaderboards)."""

from __future__ import annotations

import sqlite3
import time

from flask import Flask
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from . import config as config_module
from . import database, i18n, jsonfast, models, origin, params, security, uow
from .extensions import csrf, db, login_manager, migrate
from .ops import logs, telemetry
from .web import errors, ui


def _sqlite_pragmas(engine: Engine) -> None:
    """SQLite as an embedded server: WAL for readers beside the writer, a busy timeout instead of
    'database is locked', and BEGIN IMMEDIATE so two writers queue instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Wait for the write lock (up to the same 30 s) polling every <= 2 ms: SQLite's own busy handler
        # backs off to 25-100 ms sleeps, so under two busy workers a request could sleep long after the
        # lock was free (100-250 ms tails for simple page views).
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA busy_timeout=0")
        try:
            deadline, pause = time.monotonic() + 30, 0.0002
            while True:
                try:
                    raw.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as e:
                    if "locked" not in str(e) or time.monotonic() >= deadline:
                        raise
                    time.sleep(pause)
                    pause = min(pause * 2, 0.002)
        finally:
            raw.execute("PRAGMA busy_timeout=30000")


IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip per request: a connection checked in moments
    ago is alive; one idle for a while (a database restart, a proxy's idle timeout may have cut it) is
    pinged first, and replaced if dead (SQLAlchemy retries the checkout on DisconnectionError)."""

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn, record):
        record.info["gamify.idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, _proxy):
        since = record.info.get("gamify.idle_since")
        if since is not None and time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
        except Exception as e:  # noqa: BLE001 - any failure here means a dead connection
            raise exc.DisconnectionError(str(e)) from e


def _postgres_settings(engine: Engine, threshold) -> None:
    """psycopg's prepared statements (gamify.database.prepare_threshold: early, or never behind PgBouncer)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.prepare_threshold = threshold


def _configure_engine(app: Flask, engine: Engine) -> None:
    """The connection hooks every engine of the app gets (the primary's and the replica's)."""
    _ping_when_idle(engine)
    if engine.dialect.name == "sqlite":
        _sqlite_pragmas(engine)
    elif engine.dialect.name == "postgresql":
        _postgres_settings(engine, database.prepare_threshold(app.config))


def create_app(overrides: dict | None = None) -> Flask:
    root = config_module.ROOT
    app = Flask(
        __name__,
        template_folder=str(root / "templates"),
        static_folder=str(root / "static"),
        instance_path=str(config_module.INSTANCE),
    )
    app.config.update(config_module.from_env())
    if overrides:
        app.config.update(overrides)
    logs.init_app(app)  # first: every later hook, and what it logs, runs under the request id
    telemetry.init_app(app)  # next: its after_request runs after every other one (uow's commit included)
    # JSON columns are parsed with orjson (gamify.jsonfast), API bodies too.
    # Pool sizes, timeouts and PgBouncer safety from the DATABASE_* settings (gamify/database.py).
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        "json_deserializer": jsonfast.loads,
        **database.engine_options(
            app.config, app.config["SQLALCHEMY_DATABASE_URI"], job=bool(app.config.get("GAMIFY_JOB_PROCESS"))
        ),
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
    }
    app.json = jsonfast.FlaskProvider(app)
    if app.config.get("PROXY_FIX_X_FOR"):
        from werkzeug.middleware.proxy_fix import ProxyFix  # noqa: PLC0415

        hops = int(app.config["PROXY_FIX_X_FOR"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(root / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"

    with app.app_context():
        _configure_engine(app, db.engine)
    database.init_app(app, lambda engine: _configure_engine(app, engine))

    @login_manager.user_loader
    def _load_user(user_id: str):
        return db.session.get(models.User, int(user_id))

    params.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    ui.init_app(app)
    uow.init_app(app)
    origin.init_app(app)
    # The composition root: features imports every blueprint and job module, and some of those build
    # apps of their own with create_app (the worker, background backfills), so it is imported here.
    from . import features  # noqa: PLC0415

    features.register(app)
    security.apply_limits(app)
    return app
