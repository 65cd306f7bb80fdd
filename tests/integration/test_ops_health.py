"""/healthz answers while the process lives; /readyz says whether the database, Redis and the schema
(migrations at head) let this process serve, and goes back to ready when they return."""

import re

import pytest
from sqlalchemy import text

from gamify import create_app
from gamify.config import ROOT


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
