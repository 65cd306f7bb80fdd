"""PostgreSQL at scale (gamify/database.py): pool and timeout settings, PgBouncer safety, and a replica
(DATABASE_REPLICA_URL) that serves the leaderboard pages and the analytics while the event path reads
the primary.

The replica here is a second database holding a copy of the primary's rows with every leaderboard
score raised by 1000 and every player renamed: a page showing 1009 or "Replica u0" read the replica;
an event that leaves 9 + 1 = 10 in the primary read the primary (from the replica it would write 1010)."""

import os
import re

import pytest
import redis as redis_lib
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from gamify import create_app, database
from gamify.extensions import db as _db
from gamify.models import LeaderboardScore, User
from gamify.services.events import process_event
from tests import factories as f
from tests.conftest import APP_CONFIG
from tests.integration.test_leaderboards_web import make_board
from tests.pgdb import scratch_database

# ------------------------------------------------------------------------------------------ settings

PG = "postgresql+psycopg://gamify@db.internal/gamify"


def test_pool_defaults_are_sized_for_one_unit_of_work_per_process():
    assert database.engine_options({}, PG) == {
        "pool_size": 2,
        "max_overflow": 2,
        "pool_timeout": 10.0,
        "pool_recycle": 1800,
        "connect_args": {"connect_timeout": 5},
    }


def test_settings_reach_the_engine_options_and_the_statement_timeout_the_server():
    config = {
        "DATABASE_POOL_SIZE": 5,
        "DATABASE_MAX_OVERFLOW": 0,
        "DATABASE_POOL_TIMEOUT": 3,
        "DATABASE_POOL_RECYCLE": 600,
        "DATABASE_STATEMENT_TIMEOUT_MS": 15000,
        "DATABASE_JOB_STATEMENT_TIMEOUT_MS": 0,
    }
    assert database.engine_options(config, PG) == {
        "pool_size": 5,
        "max_overflow": 0,
        "pool_timeout": 3.0,
        "pool_recycle": 600,
        "connect_args": {"connect_timeout": 5, "options": "-c statement_timeout=15000"},
    }
    # jobs (rebuilds, backfills over every player) run without the web's timeout
    assert database.engine_options(config, PG, job=True)["connect_args"] == {"connect_timeout": 5}
    assert database.engine_options({**config, "DATABASE_JOB_STATEMENT_TIMEOUT_MS": 600000}, PG, job=True)[
        "connect_args"
    ] == {"connect_timeout": 5, "options": "-c statement_timeout=600000"}
    assert database.engine_options(config, "sqlite:///x.db") == {}  # SQLite keeps its own pool


def test_behind_pgbouncer_no_prepared_statements_and_no_startup_options():
    config = {"DATABASE_PGBOUNCER": True, "DATABASE_STATEMENT_TIMEOUT_MS": 15000}
    assert database.engine_options(config, PG)["connect_args"] == {"connect_timeout": 5, "prepare_threshold": None}
    assert database.prepare_threshold(config) is None
    assert database.prepare_threshold({}) == 1


def test_settings_from_the_environment(monkeypatch):
    from gamify import config

    monkeypatch.setenv("DATABASE_REPLICA_URL", "postgres://ro@replica.internal/gamify")
    monkeypatch.setenv("DATABASE_POOL_SIZE", "4")
    monkeypatch.setenv("DATABASE_PGBOUNCER", "1")
    got = config.from_env()
    assert got["DATABASE_REPLICA_URL"] == "postgresql+psycopg://ro@replica.internal/gamify"
    assert got["DATABASE_POOL_SIZE"] == 4 and got["DATABASE_PGBOUNCER"] is True
    assert got["DATABASE_STATEMENT_TIMEOUT_MS"] == 15000 and got["DATABASE_JOB_STATEMENT_TIMEOUT_MS"] == 0


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL only (TEST_DATABASE_URL)")
def test_the_statement_timeout_is_the_servers(database_url):
    app = create_app({**APP_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, "DATABASE_STATEMENT_TIMEOUT_MS": 1234})
    with app.app_context():
        assert _db.session.execute(text("SHOW statement_timeout")).scalar() == "1234ms"
        _db.session.rollback()
        assert _db.engine.pool.size() == 2
        _db.engine.dispose()


# ------------------------------------------------------------------------------------------ replica


@pytest.fixture
def replica_url(database_url, tmp_path):
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'replica.db'}"
        return
    with scratch_database(database_url, "replica") as url:
        yield url


def _copy_to(replica_url: str) -> None:
    """The primary's rows into the replica, then the replica made recognisable."""
    engine = create_engine(replica_url)
    _db.metadata.create_all(engine)
    with _db.engine.connect() as src, engine.begin() as dst:
        for table in _db.metadata.sorted_tables:
            rows = [dict(r) for r in src.execute(table.select()).mappings()]
            if rows:
                dst.execute(table.insert(), rows)
        dst.execute(text("UPDATE leaderboard_scores SET score = score + 1000"))
        dst.execute(text("UPDATE users SET display_name = 'Replica ' || display_name"))
    engine.dispose()


@pytest.fixture
def world(app, db, redis_server, replica_url):
    """A perpetual board: u0 9, u1 7, and the web player Pat 4; an API key; the replica's copy; an app
    reading it, whose rankings Redis is unreachable (so pages read SQL, not a copy rebuilt from it)."""
    m = f.metric("lessons")
    make_board(metric=m)
    for i, score in enumerate([9, 7]):
        u = f.player(f"u{i}")
        db.session.commit()
        process_event("lessons", u, score, now=f.utc(2026, 2, 1, 10, i))
    pat = f.web_player()
    process_event("lessons", pat, 4, now=f.utc(2026, 2, 1, 11))
    secret = f.api_key()
    db.session.commit()
    _copy_to(replica_url)
    reader = create_app(
        {
            **APP_CONFIG,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": redis_server["url"],
            "REDIS_RANKINGS_URL": "redis://127.0.0.1:1/0",  # refused at once: rankings from SQL
            "DATABASE_REPLICA_URL": replica_url,
        }
    )
    database.reset_replica_rest()
    yield {"app": reader, "secret": secret}
    with reader.app_context():
        _db.session.remove()
        _db.engine.dispose()
        reader.extensions[database.REPLICA_KEY].dispose()


def _primary_score(external_id: str) -> float:
    """Read in its own transaction (on SQLite every transaction holds the write lock)."""
    with _db.engine.connect() as conn:
        return conn.execute(
            text("SELECT s.score FROM leaderboard_scores s JOIN users u ON u.id = s.user_id WHERE u.external_id = :e"),
            {"e": external_id},
        ).scalar_one()


def test_the_leaderboard_page_reads_the_replica(world):
    client = world["app"].test_client()
    f.login(client)
    html = re.sub(r"\s+", " ", client.get("/leaderboards").get_data(as_text=True))
    # the replica's copy (primary: u0 9, u1 7, Pat 4); the signed-in player's own name comes from the
    # primary (Flask-Login loads them before the page)
    assert '<td>Replica u0</td> <td class="score">1,009</td>' in html
    assert '<td>Replica u1</td> <td class="score">1,007</td>' in html
    assert '<td>Pat (you)</td> <td class="score">1,004</td>' in html


def test_the_leaderboard_api_reads_the_replica(world):
    client = world["app"].test_client()
    body = client.get("/api/v1/leaderboards/lessons", headers={"X-API-Key": world["secret"]}).get_json()
    assert [(r["name"], r["score"]) for r in body["rankings"]] == [
        ("Replica u0", 1009),
        ("Replica u1", 1007),
        ("Replica Pat", 1004),
    ]


def test_redis_is_rebuilt_from_the_primary_when_a_replica_page_asks(world, app, redis_server):
    """A page on the replica finding no Redis copy rebuilds it: from the primary, or Redis would hold the
    lagging scores until the next rebuild. The names still come from the replica."""
    reader = create_app({**world["app"].config, "REDIS_RANKINGS_URL": None})
    redis_lib.Redis.from_url(redis_server["url"]).flushall()  # no copy: the next read rebuilds it
    r = reader.test_client().get("/api/v1/leaderboards/lessons", headers={"X-API-Key": world["secret"]})
    assert [(e["name"], e["score"]) for e in r.get_json()["rankings"]] == [
        ("Replica u0", 9),
        ("Replica u1", 7),
        ("Replica Pat", 4),
    ]
    with reader.app_context():
        _db.engine.dispose()
        reader.extensions[database.REPLICA_KEY].dispose()


def test_the_analytics_page_reads_the_replica(world, db, replica_url):
    engine = create_engine(replica_url)
    with engine.begin() as conn:  # the replica counts 2 players (the primary 3)
        conn.execute(text("UPDATE users SET role = 'admin' WHERE external_id = 'u1'"))
    engine.dispose()
    f.admin()
    client = world["app"].test_client()
    f.login(client, "admin@example.com")
    html = client.get("/admin/analytics").get_data(as_text=True)
    assert "2 players. Figures are live." in html


def test_events_read_the_primary_even_from_a_replica_block(world):
    client = world["app"].test_client()
    r = client.post(
        "/api/v1/metrics/lessons/event",
        json={"user": {"id": "u0"}, "value": 1},
        headers={"X-API-Key": world["secret"]},
    )
    assert r.status_code == 201, r.get_json()
    assert _primary_score("u0") == 10  # 9 + 1 (from the replica: 1009 + 1)
    with world["app"].app_context(), database.replica_reads():
        u0 = _db.session.execute(select(User).where(User.external_id == "u0")).scalar_one()
        assert u0.display_name == "Replica u0"  # this block does read the replica...
        process_event("lessons", u0, 1)  # ...but the event does not
    assert _primary_score("u0") == 11


def test_reads_stay_on_the_primary_where_the_replica_would_be_wrong(world):
    with world["app"].app_context(), database.replica_reads():
        session = _db.session
        score = select(LeaderboardScore.score).order_by(LeaderboardScore.score.desc()).limit(1)
        assert session.execute(score).scalar() == 1009
        assert session.execute(score.with_for_update()).scalar() == 9  # a lock: the primary
        session.rollback()
        with database.primary_reads():
            assert session.execute(score).scalar() == 9
        assert session.execute(score).scalar() == 1009
        database.event_transaction(session)  # an event's transaction: committed state only
        assert session.execute(score).scalar() == 9
        session.rollback()
        assert session.execute(score).scalar() == 1009  # the mark ended with its transaction
        session.execute(text("SELECT 1"))  # a statement gamify cannot classify: stays on the primary
        assert session.execute(score).scalar() == 9
        session.rollback()
    with world["app"].app_context():  # outside replica_reads(): the primary
        assert _db.session.execute(score).scalar() == 9


def test_reads_go_to_the_primary_while_the_replica_is_unreachable(app, db, database_url, tmp_path):
    unreachable = (
        f"sqlite:///{tmp_path / 'no-such-dir' / 'replica.db'}"
        if database_url.startswith("sqlite")
        else "postgresql+psycopg://postgres@127.0.0.1:1/gamify"
    )
    reader = create_app({**APP_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, "DATABASE_REPLICA_URL": unreachable})
    database.reset_replica_rest()
    f.player("u0")
    db.session.commit()
    users = text("SELECT count(*) FROM users")
    count = select(User.id)
    try:
        with reader.app_context(), database.replica_reads():
            with pytest.raises(OperationalError):  # the read that finds the replica gone fails...
                _db.session.execute(count).all()
            _db.session.rollback()
            assert database.replica_resting()
            assert len(_db.session.execute(count).all()) == 1  # ...the next ones read the primary
            assert _db.session.execute(users).scalar() == 1
            _db.session.rollback()
    finally:
        database.reset_replica_rest()
        with reader.app_context():
            _db.engine.dispose()
