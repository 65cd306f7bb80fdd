"""/healthz answers while the process lives; /readyz says whether the database, Redis and the schema
(migrations at head) let this process serve, and goes back to ready when they return."""

import os
import re
import socket
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gamify import create_app
from gamify.config import ROOT
from gamify.extensions import db as _db


def _migration_chain() -> tuple[str, str]:
    """(head, the revision before it), read from the migration files themselves."""
    revs = {}
    for path in (ROOT / "migrations" / "versions").glob("*.py"):
        src = path.read_text()
        rev = re.search(r'^revision = "(\w+)"', src, re.M).group(1)
        down = re.search(r"^down_revision = (?:\"(\w+)\"|None)", src, re.M).group(1)
        revs[rev] = down
    (head,) = set(revs) - set(revs.values())
    return head, revs[head]


@pytest.fixture
def stamp(db):
    """Write a revision into alembic_version (the tests build tables with create_all, unstamped)."""
    db.session.commit()

    def _stamp(revision: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
            conn.execute(text("DELETE FROM alembic_version"))
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})

    yield _stamp
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_ready_when_everything_answers(client, stamp):
    head, _before = _migration_chain()
    stamp(head)
    r = client.get("/readyz")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "ready"
    assert {name: c["ok"] for name, c in r.json["checks"].items()} == {
        "database": True,
        "redis": True,
        "migrations": True,
    }
    assert "Set-Cookie" not in r.headers and r.headers["Cache-Control"] == "no-store"


def test_unready_while_redis_is_down_and_ready_again_when_it_returns(client, stamp, redis_server):
    head, _before = _migration_chain()
    stamp(head)
    redis_server["stop"]()
    try:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json["status"] == "unready"
        checks = r.json["checks"]
        assert checks["redis"]["ok"] is False and checks["redis"]["error"]
        assert checks["database"]["ok"] is True and checks["migrations"]["ok"] is True
        # Liveness touches no dependency: the process is fine, restarting it would not help.
        live = client.get("/healthz")
        assert live.status_code == 200 and live.json == {"status": "ok"}
    finally:
        redis_server["start"]()
    r = client.get("/readyz")
    assert r.status_code == 200, r.json


def test_unready_while_the_database_is_behind_the_code(client, stamp):
    head, before = _migration_chain()
    stamp(before)
    r = client.get("/readyz")
    assert r.status_code == 503
    checks = r.json["checks"]
    assert checks["migrations"]["ok"] is False
    assert before in checks["migrations"]["error"] and head in checks["migrations"]["error"]
    assert checks["database"]["ok"] and checks["redis"]["ok"]
    stamp(head)  # `flask db upgrade` ran
    assert client.get("/readyz").status_code == 200


def test_unready_on_a_database_never_migrated(client, stamp):
    r = client.get("/readyz")  # no alembic_version table at all (create_all, not `flask db upgrade`)
    assert r.status_code == 503
    migrations = r.json["checks"]["migrations"]
    assert migrations["ok"] is False and "no revision" in migrations["error"]


def test_probes_are_never_rate_limited(database_url, redis_server):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_server["url"],
            "SECRET_KEY": "test-secret",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_DEFAULT": "1 per minute",  # every other route: the second request is refused
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    client = app.test_client()
    with app.app_context():
        assert client.get("/login").status_code == 200
        assert client.get("/login").status_code == 429  # the default limit does apply elsewhere
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code in (200, 503)


class _TcpProxy:
    """127.0.0.1:<port> forwarded to PostgreSQL; stop() closes the port and cuts every connection (the
    database 'goes down' for this app only), start() opens the same port again."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port, self._conns, self._server = target, None, [], None

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port or 0))
        server.listen(16)
        self.port, self._server = server.getsockname()[1], server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self._server.close()
        for s in self._conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self._conns = []


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL only (TEST_DATABASE_URL)")
def test_unready_while_postgresql_is_down_and_ready_again_when_it_returns(app, stamp, database_url, redis_server):
    head, _before = _migration_chain()
    stamp(head)
    url = make_url(database_url)
    proxy = _TcpProxy((url.host, url.port))
    proxy.start()
    probed = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": url.set(host="127.0.0.1", port=proxy.port).render_as_string(False),
            "REDIS_URL": redis_server["url"],
            "RATELIMIT_ENABLED": False,
        }
    )
    client = probed.test_client()
    try:
        assert client.get("/readyz").status_code == 200
        proxy.stop()
        started = time.monotonic()
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json["status"] == "unready"
        assert r.json["checks"]["database"]["ok"] is False and r.json["checks"]["redis"]["ok"] is True
        assert time.monotonic() - started < 15  # answers while the database is gone, never hangs
        assert client.get("/healthz").status_code == 200
        proxy.start()
        r = client.get("/readyz")
        assert r.status_code == 200, r.json
    finally:
        proxy.stop()
        with probed.app_context():
            _db.engine.dispose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_separate_rankings_redis_down_degrades_but_stays_ready(app, client, stamp, redis_server):
    """Rankings fall back to SQL and the limiter to memory: their Redis down must not take every web
    process out of the load balancer, but the body says so."""
    head, _before = _migration_chain()
    stamp(head)
    dead = f"redis://127.0.0.1:{_closed_port()}/0"
    app.config.update(REDIS_RANKINGS_URL=dead, REDIS_RATELIMIT_URL=None)
    try:
        r = client.get("/readyz")
        assert r.status_code == 200, r.json
        assert r.json["status"] == "degraded"
        checks = r.json["checks"]
        assert checks["rankings_redis"]["ok"] is False and checks["rankings_redis"]["required"] is False
        assert "ratelimit_redis" not in checks  # shares the queue's Redis: checked as "redis"
        assert checks["redis"]["ok"] is True
    finally:
        app.config.update(REDIS_RANKINGS_URL=None)


def test_separate_role_redis_that_answers_is_ready(app, client, stamp, redis_server):
    head, _before = _migration_chain()
    stamp(head)
    queue_url = app.config.get("REDIS_QUEUE_URL") or app.config["REDIS_URL"]
    other_db = queue_url.rsplit("/", 1)[0] + "/7"  # the same server, another database: a different URL
    app.config.update(REDIS_RATELIMIT_URL=other_db)
    try:
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json["status"] == "ready", r.json
        assert r.json["checks"]["ratelimit_redis"]["ok"] is True
        redis_server["stop"]()
        try:  # the queue's Redis is required: unready, whatever else answers
            r = client.get("/readyz")
            assert r.status_code == 503 and r.json["status"] == "unready"
            assert r.json["checks"]["ratelimit_redis"]["ok"] is False
        finally:
            redis_server["start"]()
    finally:
        app.config.update(REDIS_RATELIMIT_URL=None)
