"""Batch ingest equals one by one: random event sequences sent through POST /api/v1/events (in random
chunks) and through the single-event endpoint give the same responses and the same rows in every
table the pipeline writes (ids and processing timestamps aside), the same Redis rankings, and the
same rank changes of overtaken players once the fan-out has caught up.

The two runs use the same database one after the other (emptied in between), with the clock frozen
per chunk: a batch arrives at one instant, so the one-by-one run sends that chunk's events at that
instant too.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import redis as redis_lib
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamify import redis_roles
from gamify.extensions import db as _db
from gamify.models import EnergyAction, EnergySettings, LeaderboardScoreLog, StreakPause
from gamify.services import achievements, leaderboards, rank_fanout, snapshot
from tests import factories as f
from tests.hypo import examples

T0 = f.utc(2026, 3, 2, 9)  # a Monday
PLAYERS = ["p0", "p0", "p1", "p2", "p3"]
CITIES = ["rome", "oslo"]
ZONES = [None, None, None, "Asia/Tokyo", "America/New_York"]


def _reset(redis_url: str) -> None:
    """What the `app` fixture does between tests: empty tables and Redis, forget cached config."""
    _db.session.rollback()
    _db.session.remove()
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # ids restart too, so configuration rows get the same ids
            names = ", ".join(t.name for t in _db.metadata.sorted_tables)
            conn.execute(_db.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:  # SQLite reuses rowids from 1 once a table is empty
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())
    redis_lib.Redis.from_url(redis_url).flushall()
    rankings = redis_roles.rankings_redis()  # a cluster under GAMIFY_TEST_REDIS_CLUSTER=1
    if redis_roles.is_cluster(rankings):
        rankings.flushall(target_nodes=rankings.PRIMARIES)
    snapshot.invalidate()
    achievements._count_cache.clear()


def _configure() -> str:
    """Every feature on, with limits small enough that random sequences reach them."""
    lessons, minutes = f.metric("lessons"), f.metric("minutes", "Minutes", "min")
    f.streak({lessons: 1}, freeze_initial=1, freeze_every=2, freeze_max=2)
    l3 = f.achievement("lessons_3", "metric", metric_id=lessons.id, threshold=3)
    f.achievement("lessons_8", "metric", metric_id=lessons.id, threshold=8)
    f.achievement("rome_minutes", "metric", metric_id=minutes.id, threshold=4, attribute_filters={"city": "rome"})
    s2 = f.achievement("streak_2", "streak", streak_length=2)
    f.achievement("both", "composite", prerequisite_ids=[l3.id, s2.id])
    xp = f.system("xp", levels=[("bronze", "Bronze", 20), ("silver", "Silver", 60)], daily_cap=45)
    gems = f.system("gems", max_balance=12)
    f.trigger(xp, "metric", 10, metric_id=lessons.id)
    f.trigger(xp, "metric", 3, metric_id=minutes.id, per_units=2)
    f.trigger(xp, "streak", 15, streak_length=2)
    f.trigger(gems, "achievement", 5, achievement_id=l3.id)
    f.trigger(gems, "achievement", 4, achievement_id=s2.id)
    f.boost(xp, 1.5, rounding="ceil", attribute_filters={"city": "oslo"})
    _db.session.add(EnergySettings(id=1, free_max=60, low_threshold=25))
    _db.session.add(
        EnergyAction(
            key="lesson",
            name="Lesson",
            base_cost=20,
            metric_key="lessons",
            metric_value=1,
            difficulties={"easy": 0.5, "medium": 1.0, "hard": 1.5},
        )
    )
    _db.session.commit()
    for data in (
        {
            "key": "lessons",
            "ranked_by": "metric",
            "metric_id": lessons.id,
            "frequency": "perpetual",
            "participant_limit": 3,
            "breakdown": ["city"],
        },
        {
            "key": "xp_week",
            "ranked_by": "points",
            "system_id": xp.id,
            "frequency": "weekly",
            "start_date": date(2026, 1, 5),
            "participant_limit": 2,
            "breakdown": [],
        },
        {
            "key": "streaks",
            "ranked_by": "streak",
            "frequency": "perpetual",
            "participant_limit": 2,
            "breakdown": ["city"],
        },
    ):
        leaderboards.create({"name": data["key"].title(), **data}, now=T0)
    _db.session.commit()
    leaderboards.rebuild()
    _db.session.commit()
    # Streak pauses are loaded with the players' state: p1 paused on 3-4 March, p2 on 5-6 March.
    for who, first in (("p1", 3), ("p2", 5)):
        user = f.player(who)
        _db.session.add(
            StreakPause(
                public_id=f"00000000-0000-4000-8000-00000000000{first}",  # the same in both runs
                user_id=user.id,
                start_on=date(2026, 3, first),
                end_on=date(2026, 3, first + 1),
            )
        )
    _db.session.commit()
    return f.api_key()


event = st.fixed_dictionaries(
    {
        "player": st.sampled_from(PLAYERS),
        "metric": st.sampled_from(["lessons", "lessons", "lessons", "minutes", "nope"]),
        "value": st.sampled_from([1, 1, 2, 3, "x"]),
        "key": st.sampled_from([None, None, "k1", "k2", "k3"]),
        "action": st.sampled_from([None, None, None, "easy", "medium", "hard", "nosuch"]),
        "tz": st.sampled_from(ZONES),
        "city": st.sampled_from([None, None, None] + CITIES),
    }
)
chunk = st.tuples(st.integers(min_value=0, max_value=30), st.lists(event, min_size=1, max_size=9))


def _body(e: dict) -> dict:
    user = {"id": e["player"]}
    if e["city"]:
        user["attributes"] = {"city": e["city"]}
    body = {"metric": e["metric"], "user": user, "value": e["value"]}
    if e["key"]:
        body["idempotency_key"] = e["key"]
    if e["tz"]:
        body["tz"] = e["tz"]
    if e["action"] == "nosuch":
        body["action"] = "nosuch"
    elif e["action"]:
        body["action"], body["difficulty"] = "lesson", e["action"]
    return body


def _run(client, key: str, chunks: list, batched: bool) -> list:
    """Send every chunk at its instant; returns one (status, body) per event."""
    out = []
    at = T0
    for hours, events in chunks:
        at = at + timedelta(hours=hours)
        with time_machine.travel(at, tick=False):
            if batched:
                r = client.post(
                    "/api/v1/events", headers={"X-API-Key": key}, json={"events": [_body(e) for e in events]}
                )
                assert r.status_code == 200, r.get_data(as_text=True)
                out += [(x.pop("status"), x) for x in r.get_json()["results"]]
            else:
                for n, e in enumerate(events):
                    body = _body(e)
                    # a batch stamps its events in order, a microsecond apart: so do we
                    with time_machine.travel(at + timedelta(microseconds=n), tick=False):
                        r = client.post(
                            f"/api/v1/metrics/{body.pop('metric')}/event", headers={"X-API-Key": key}, json=body
                        )
                    out.append((r.status_code, r.get_json()))
                rank_fanout.run_all()  # the worker catching up now and then changes nothing
    rank_fanout.run_all()
    assert _db.session.query(LeaderboardScoreLog).count() == 0
    return out


_SKIP = {"id", "created_at", "updated_at", "last_seen_at", "claimed_at", "dispatched_at", "password_hash", "public_id"}
_EVENT_REFS = {"source_event_id", "event_id", "trigger_event_id"}


def _tables() -> dict:
    """Every table as a sorted list of rows, ids replaced by what they stand for."""
    conn = _db.session.connection()
    users = {r.id: r.external_id for r in conn.execute(_db.text("SELECT id, external_id FROM users"))}
    events = {}
    for uid, ids in _group(conn.execute(_db.text("SELECT user_id, id FROM metric_events ORDER BY id"))).items():
        for n, eid in enumerate(ids):
            events[eid] = f"{users[uid]}#{n}"  # a player's n-th recorded event
    out = {}
    for table in _db.metadata.sorted_tables:
        rows = []
        for r in conn.execute(table.select()):
            row = {}
            for col, v in r._mapping.items():
                if col in _SKIP:
                    continue
                if col == "user_id" or col.endswith("_user_id"):
                    v = users.get(v, v)
                elif col in _EVENT_REFS or (col == "related_id" and r._mapping.get("related_type") == "metric_event"):
                    v = events.get(v, v)
                elif isinstance(v, dict) and "by_user_id" in v:
                    v = {**v, "by_user_id": users.get(v["by_user_id"])}
                row[col] = v
            rows.append(json.dumps(row, sort_keys=True, default=str))
        out[table.name] = sorted(rows)
    return out


def _group(rows) -> dict:
    out: dict = {}
    for uid, eid in rows:
        out.setdefault(uid, []).append(eid)
    return out


def _rankings() -> dict:
    """Every live Redis ranking: (player, score) in display order."""
    from gamify.engine import leaderboards as lb_engine

    conn = _db.session.connection()
    users = {r.id: r.external_id for r in conn.execute(_db.text("SELECT id, external_id FROM users"))}
    r = redis_roles.rankings_redis()
    return {
        k.decode(): [(users[lb_engine.decode_member(m)], s) for m, s in r.zrevrange(k, 0, -1, withscores=True)]
        for k in redis_roles.scan("lb:*", client=r)
    }


def _response(body: dict) -> dict:
    body = dict(body)
    body.pop("event_id", None)
    return body


@settings(
    max_examples=examples(25),
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chunks=st.lists(chunk, min_size=1, max_size=6))
def test_a_batch_equals_the_same_events_one_by_one(app, client, redis_server, chunks):
    _reset(redis_server["url"])
    key = _configure()
    one = _run(client, key, chunks, batched=False)
    tables_one, rankings_one = _tables(), _rankings()

    _reset(redis_server["url"])
    key = _configure()
    many = _run(client, key, chunks, batched=True)
    tables_many, rankings_many = _tables(), _rankings()

    assert [s for s, _b in many] == [s for s, _b in one]
    for n, ((_s1, b1), (_s2, b2)) in enumerate(zip(one, many)):
        assert _response(b2) == _response(b1), f"event {n}: batch {b2} != one by one {b1}"
    for name in tables_one:
        if name == "api_keys":
            continue
        extra = sorted(set(tables_many[name]) - set(tables_one[name]))
        missing = sorted(set(tables_one[name]) - set(tables_many[name]))
        assert tables_many[name] == tables_one[name], f"{name}: only in batch {extra}, only one by one {missing}"
    assert rankings_many == rankings_one
