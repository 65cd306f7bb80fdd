"""Reading rankings (services/leaderboards/ranking.py): a player's rank and display position with the
players around them, from Redis and from SQL (the same answer both ways), ties broken by the earlier
achiever and then the lower id, segments, the dashboard's ranks on every board, and participant counts.

Six players on a lessons board broken down by city, ranks worked out by hand:

    position  player  city    score  rank
    1         a       London  50     1
    2         b       Paris   40     2    b and c scored 40 at the same instant: the lower id first
    3         c       London  40     2
    4         d       Paris   30     4
    5         e       London  20     5
    6         f       Paris   10     6
"""

import logging
from datetime import date, timedelta

import pytest
from redis.exceptions import RedisError

from gamify.extensions import db as _db
from gamify.models import User
from gamify.redis_roles import rankings_redis
from gamify.services import leaderboards as svc
from gamify.services.events import process_event
from gamify.services.leaderboards import ranking
from tests import factories as f

T = f.utc(2026, 3, 2, 9)


def board(key, metric, breakdown=(), frequency="perpetual", start=None, now=None):
    b = svc.create(
        {
            "key": key,
            "name": key.title(),
            "ranked_by": "metric",
            "metric_id": metric.id,
            "frequency": frequency,
            "start_date": start,
            "participant_limit": 10,
            "breakdown": list(breakdown),
        },
        now=now,
    )
    _db.session.commit()
    svc.rebuild(b)
    _db.session.commit()
    return b


@pytest.fixture
def six(db):
    lessons = f.metric("lessons")
    b = board("lessons", lessons, breakdown=["city"])
    cities = {"a": "London", "b": "Paris", "c": "London", "d": "Paris", "e": "London", "f": "Paris"}
    users = {name: f.player(name, attributes={"city": city}) for name, city in cities.items()}
    f.player("g", attributes={"city": "London"})  # never on the board
    db.session.commit()
    for name, score, at in [("a", 50, 1), ("b", 40, 2), ("c", 40, 2), ("d", 30, 3), ("e", 20, 4), ("f", 10, 5)]:
        process_event("lessons", users[name], score, now=T + timedelta(seconds=at))
    return b, users


def seen(found):
    """A position without the display names: (external id, rank, position, score) around."""
    if found is None:
        return None
    out = {k: v for k, v in found.items() if k != "around"}
    out["around"] = [(e["external_id"], e["rank"], e["position"], e["score"]) for e in found["around"]]
    return out


EXPECTED = {
    # c, one neighbour each side: b shares the rank, d is the next score.
    ("c", "global", 1): {
        "rank": 2,
        "position": 3,
        "score": 40,
        "participants": 6,
        "around": [("b", 2, 2, 40), ("c", 2, 3, 40), ("d", 4, 4, 30)],
    },
    # e with the default two each side: the list runs out after f.
    ("e", "global", None): {
        "rank": 5,
        "position": 5,
        "score": 20,
        "participants": 6,
        "around": [("c", 2, 3, 40), ("d", 4, 4, 30), ("e", 5, 5, 20), ("f", 6, 6, 10)],
    },
    # the leader: nobody above, two below.
    ("a", "global", 2): {
        "rank": 1,
        "position": 1,
        "score": 50,
        "participants": 6,
        "around": [("a", 1, 1, 50), ("b", 2, 2, 40), ("c", 2, 3, 40)],
    },
    # London alone: a, c, e.
    ("c", "city:london", 1): {
        "rank": 2,
        "position": 2,
        "score": 40,
        "participants": 3,
        "around": [("a", 1, 1, 50), ("c", 2, 2, 40), ("e", 3, 3, 20)],
    },
}


def positions(b, users, use_redis):
    out = {}
    for (name, segment, radius), _expected in EXPECTED.items():
        kwargs = {} if radius is None else {"radius": radius}
        out[(name, segment, radius)] = seen(
            svc.position(b, "all", segment, users[name].id, use_redis=use_redis, **kwargs)
        )
    return out


def test_positions_from_redis_with_ties_neighbours_and_segments(six, caplog):
    b, users = six
    with caplog.at_level(logging.WARNING, logger="gamify.services.leaderboards"):
        assert positions(b, users, None) == EXPECTED
    assert not caplog.records  # answered by Redis: no fallback to SQL on the way


def test_positions_from_sql_are_the_same_without_redis(six):
    b, users = six
    rankings_redis().flushall()  # nothing in Redis: every answer must come from SQL
    assert positions(b, users, False) == EXPECTED


def test_a_player_not_on_the_board_has_no_position(six, db):
    b, _users = six
    g = db.session.execute(db.select(User).where(User.external_id == "g")).scalar_one()
    assert svc.position(b, "all", "global", g.id) is None
    assert svc.position(b, "all", "global", g.id, use_redis=False) is None


def test_participants_count_the_period_and_segment(six):
    b, _users = six
    assert svc.participants(b) == 6  # the current period, every player
    assert svc.participants(b, "all", "city:london") == 3
    assert svc.participants(b, "2026-03-02") == 0  # a period the board does not have


class BrokenRedis:
    """A Redis that answers nothing: every read raises."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise RedisError("boom")

        return fail


def test_a_failed_redis_read_falls_back_to_sql_and_says_so(six, caplog, monkeypatch):
    b, users = six
    monkeypatch.setattr(ranking, "ensure_redis", lambda board: True)  # the copy is there; the read fails
    monkeypatch.setattr(ranking.redis_roles, "rankings_redis", BrokenRedis)
    with caplog.at_level(logging.WARNING, logger="gamify.services.leaderboards"):
        got = seen(svc.position(b, "all", "global", users["c"].id, radius=1))
    assert got == EXPECTED[("c", "global", 1)]
    assert [r.getMessage() for r in caplog.records] == ["leaderboards: Redis read failed (boom); reading from SQL"]


def my_ranks_setup(db, users):
    minutes = f.metric("minutes", "Minutes", "minutes")
    board("empty", f.metric("reads", "Reads", "reads"))  # d is not on it: the boards after it still count
    board("minutes", minutes)
    old = board("old", f.metric("old", "Old", "old"))
    process_event("old", users["d"], 1, now=T)
    old.active = False  # d's row stays, the board is off
    db.session.commit()
    process_event("minutes", users["d"], 7, now=T)
    process_event("minutes", users["a"], 9, now=T)


def expected_my_ranks():
    def entry(key, segment, label, rank, score):
        url = f"/leaderboards?board={key}&segment={segment}"
        return {
            "key": key,
            "name": key.title(),
            "segment": segment,
            "period": "all",
            "segment_label": label,
            "rank": rank,
            "score": score,
            "url": url,
        }

    # d: fourth of six on the lessons board, second in Paris (after b), second on minutes (after a)
    return [
        entry("lessons", "global", "Global", 4, 30),
        entry("lessons", "city:paris", "My city", 2, 30),
        entry("minutes", "global", "Global", 2, 7),
    ]


def test_my_ranks_lists_every_active_board_and_segment_the_player_is_on(six, db):
    _b, users = six
    my_ranks_setup(db, users)
    assert svc.my_ranks(users["d"]) == expected_my_ranks()


def test_my_ranks_are_read_from_redis_when_it_can_serve(six, db, monkeypatch):
    """With a usable Redis copy the ranks come from Redis: no count in SQL (which would also be right, and
    hide a broken Redis read behind the fallback)."""
    _b, users = six
    my_ranks_setup(db, users)

    def no_sql(*args):
        raise AssertionError("ranked from SQL")

    monkeypatch.setattr(ranking, "_sql_count_above", no_sql)
    assert svc.my_ranks(users["d"]) == expected_my_ranks()


class CountingBrokenRedis(BrokenRedis):
    calls = 0

    def __getattr__(self, name):
        CountingBrokenRedis.calls += 1
        return super().__getattr__(name)


def test_my_ranks_stop_asking_a_failing_redis_for_the_rest_of_the_board(six, db, monkeypatch):
    """After a failed read, the board's other rows are ranked from SQL without asking Redis again: d has two
    rows on lessons (global, Paris) and one on minutes, so Redis is asked once per board."""
    _b, users = six
    my_ranks_setup(db, users)
    monkeypatch.setattr(ranking, "ensure_redis", lambda board: True)
    monkeypatch.setattr(ranking.redis_roles, "rankings_redis", CountingBrokenRedis)
    # Counted from zero on every run: mutation testing runs the test twice in one process (stats, then clean).
    monkeypatch.setattr(CountingBrokenRedis, "calls", 0)
    assert svc.my_ranks(users["d"]) == expected_my_ranks()
    assert CountingBrokenRedis.calls == 2


def test_my_ranks_from_sql_when_redis_cannot_serve_or_fails(six, db, monkeypatch):
    _b, users = six
    my_ranks_setup(db, users)
    monkeypatch.setattr(ranking, "ensure_redis", lambda board: False)
    assert svc.my_ranks(users["d"]) == expected_my_ranks()
    monkeypatch.setattr(ranking, "ensure_redis", lambda board: True)
    monkeypatch.setattr(ranking.redis_roles, "rankings_redis", BrokenRedis)
    assert svc.my_ranks(users["d"]) == expected_my_ranks()


def test_my_ranks_on_a_daily_board_is_the_players_local_day(db):
    lessons = f.metric("lessons")
    board("daily", lessons, frequency="daily", start=date(2030, 1, 1), now=f.utc(2030, 6, 1))
    u = f.player("u", tz="Asia/Tokyo")
    db.session.commit()
    at = f.utc(2030, 6, 1, 20)  # 05:00 on 2 June in Tokyo
    process_event("lessons", u, 3, now=at)
    [mine] = svc.my_ranks(u, now=at)
    assert (mine["key"], mine["period"], mine["rank"], mine["score"]) == ("daily", "2030-06-02", 1, 3)


def page(found):
    """A rankings() answer with its entries as (external id, name, rank, position, score)."""
    out = {k: v for k, v in found.items() if k != "entries"}
    out["entries"] = [(e["external_id"], e["name"], e["rank"], e["position"], e["score"]) for e in found["entries"]]
    return out


def pages(b):
    """Pages worked out from the table in the module's docstring (participant limit 10, then 4)."""
    got = {
        "all": page(svc.rankings(b, "all")),
        "c and d": page(svc.rankings(b, "all", offset=2, limit=2)),  # c keeps b's rank 2: same score
        "paris": page(svc.rankings(b, "all", "city:paris")),
    }
    b.participant_limit = 4  # the top 4 only: pages stop at d
    got["top 4"] = page(svc.rankings(b, "all"))
    got["last of the top"] = page(svc.rankings(b, "all", offset=3, limit=5))
    got["past the top"] = page(svc.rankings(b, "all", offset=4))
    got["further"] = page(svc.rankings(b, "all", offset=5, limit=3))
    b.participant_limit = 10
    return got


SIX = [("a", "A", 1, 1, 50), ("b", "B", 2, 2, 40), ("c", "C", 2, 3, 40), ("d", "D", 4, 4, 30)]
SIX += [("e", "E", 5, 5, 20), ("f", "F", 6, 6, 10)]
PAGES = {
    "all": {"participants": 6, "total": 6, "offset": 0, "limit": 10, "entries": SIX},
    "c and d": {"participants": 6, "total": 6, "offset": 2, "limit": 2, "entries": SIX[2:4]},
    "paris": {
        "participants": 3,
        "total": 3,
        "offset": 0,
        "limit": 10,
        "entries": [("b", "B", 1, 1, 40), ("d", "D", 2, 2, 30), ("f", "F", 3, 3, 10)],
    },
    "top 4": {"participants": 6, "total": 4, "offset": 0, "limit": 4, "entries": SIX[:4]},
    "last of the top": {"participants": 6, "total": 4, "offset": 3, "limit": 5, "entries": SIX[3:4]},
    "past the top": {"participants": 6, "total": 4, "offset": 4, "limit": 4, "entries": []},
    "further": {"participants": 6, "total": 4, "offset": 5, "limit": 3, "entries": []},
}


def named(db, users):
    for name, u in users.items():
        u.display_name = name.upper()
    db.session.commit()


def test_rankings_pages_from_redis_and_from_sql(six, db, monkeypatch, caplog):
    b, users = six
    named(db, users)
    with caplog.at_level(logging.WARNING, logger="gamify.services.leaderboards"):
        assert pages(b) == PAGES
    assert not caplog.records
    monkeypatch.setattr(ranking, "ensure_redis", lambda board: False)
    assert pages(b) == PAGES


def test_rankings_come_from_redis_while_it_holds_the_copy(six, db):
    """A player deleted while Redis still holds their score: shown by id, without an external id; only Redis
    has them, so they show that the page was read from Redis."""
    b, users = six
    named(db, users)
    ghost = max(u.id for u in users.values()) + 100
    rankings_redis().zadd(ranking.zkey(b.key, "all", "global"), {ranking.engine.encode_member(ghost, T): 5})
    got = page(svc.rankings(b, "all", offset=5, limit=2))
    assert got["participants"] == 7
    assert got["entries"] == [("f", "F", 6, 6, 10), (None, f"#{ghost}", 7, 7, 5)]


def test_a_failed_rankings_read_falls_back_to_sql_and_says_so(six, db, caplog, monkeypatch):
    b, users = six
    named(db, users)
    monkeypatch.setattr(ranking, "ensure_redis", lambda board: True)
    monkeypatch.setattr(ranking.redis_roles, "rankings_redis", BrokenRedis)
    with caplog.at_level(logging.WARNING, logger="gamify.services.leaderboards"):
        assert page(svc.rankings(b, "all", offset=2, limit=2)) == PAGES["c and d"]
    assert [r.getMessage() for r in caplog.records] == ["leaderboards: Redis read failed (boom); reading from SQL"]
