"""Leaderboards on the event engine, against a real Redis: segmented writes, rank history, ties, rebuild,
Redis outages, finalisation across time zones and archive/reset under concurrent writers."""

import logging
import threading
from datetime import date, datetime, timezone

import pytest
import redis as redis_lib

from gamify import after_commit, redis_roles
from gamify.extensions import db as _db
from gamify.models import DomainEvent, Leaderboard, LeaderboardRankChange, LeaderboardRun, LeaderboardScore
from gamify.queue import get_redis
from gamify.services import leaderboards as svc
from gamify.services.events import process_event
from tests import factories as f
from tests.conftest import RANKINGS_ON_CLUSTER


def rk():
    """The Redis holding the rankings (a cluster under GAMIFY_TEST_REDIS_CLUSTER=1)."""
    return redis_roles.rankings_redis()


def flush_redis():
    """Redis lost everything (a restart without persistence): every role's Redis."""
    get_redis().flushall()
    r = rk()
    if redis_roles.is_cluster(r):
        r.flushall(target_nodes=r.PRIMARIES)


def utc(*a):
    return datetime(*a, tzinfo=timezone.utc)


def make_board(
    key="lessons",
    metric=None,
    system=None,
    ranked_by=None,
    frequency="perpetual",
    start=None,
    limit=10,
    breakdown=(),
    now=None,
):
    data = {
        "key": key,
        "name": key.title(),
        "ranked_by": ranked_by or ("points" if system else "metric"),
        "metric_id": metric.id if metric else None,
        "system_id": system.id if system else None,
        "frequency": frequency,
        "start_date": start,
        "participant_limit": limit,
        "breakdown": list(breakdown),
    }
    board = svc.create(data, now=now)
    _db.session.commit()
    svc.rebuild(board)
    _db.session.commit()
    return board


def players(n, **attrs):
    out = [f.player(f"p{i}", **attrs) for i in range(n)]
    _db.session.commit()
    return out


def zset(key):
    return [(m.decode(), s) for m, s in rk().zrevrange(key, 0, -1, withscores=True)]


def top(board, period="all", segment="global", limit=None):
    return [
        (e["external_id"], e["rank"], e["score"]) for e in svc.rankings(board, period, segment, 0, limit)["entries"]
    ]


def test_segmented_write_lands_in_global_city_and_tier_keys(db):
    m = f.metric("lessons")
    make_board(metric=m, breakdown=["city", "tier"])
    u = f.player("ann", attributes={"city": "London", "tier": "Gold"})
    db.session.commit()
    resp = process_event("lessons", u, 3)
    r = rk()
    for seg in ("global", "city:london", "tier:gold"):
        members = r.zrevrange(svc.zkey("lessons", "all", seg), 0, -1, withscores=True)
        assert len(members) == 1 and members[0][1] == 3.0, seg
        assert r.hget(svc.hkey("lessons", "all", seg), u.id).decode().startswith("1|")
    rows = db.session.query(LeaderboardScore).filter_by(user_id=u.id).all()
    assert sorted((x.segment, x.score) for x in rows) == [("city:london", 3), ("global", 3), ("tier:gold", 3)]
    assert [(e["segment"], e["rank"], e["score"], e["previous_rank"]) for e in resp["leaderboards"]] == [
        ("global", 1, 3, None),
        ("city:london", 1, 3, None),
        ("tier:gold", 1, 3, None),
    ]


def test_player_overtaken_gets_a_rank_change_row_and_domain_event(db):
    m = f.metric("lessons")
    board = make_board(metric=m, breakdown=["city"], limit=2)
    a, b, c = (f.player(x, attributes={"city": "paris"}) for x in ("a", "b", "c"))
    db.session.commit()
    process_event("lessons", a, 5)
    process_event("lessons", b, 3)
    process_event("lessons", c, 1)  # rank 3: outside the top 2
    resp = process_event("lessons", b, 3)  # b: 6 > 5, overtakes a
    ev = resp["event_id"]
    fan_out()  # a's change is written by the worker, after the commit
    assert [(e["segment"], e["previous_rank"], e["rank"]) for e in resp["leaderboards"]] == [
        ("global", 2, 1),
        ("city:paris", 2, 1),
    ]
    rows = db.session.query(LeaderboardRankChange).filter_by(source_event_id=ev).all()
    got = sorted((x.user_id, x.segment, x.previous_rank, x.new_rank) for x in rows)
    assert got == sorted(
        [(a.id, "global", 1, 2), (a.id, "city:paris", 1, 2), (b.id, "global", 2, 1), (b.id, "city:paris", 2, 1)]
    )
    assert all(x.occurred_at is not None and x.period == "all" for x in rows)
    events = (
        db.session.query(DomainEvent).filter_by(type="leaderboard.rank_changed", source_event_id=ev, user_id=a.id).all()
    )
    assert {e.payload["segment"] for e in events} == {"global", "city:paris"}
    assert events[0].payload["previous_rank"] == 1 and events[0].payload["new_rank"] == 2
    # c (rank 3, outside the top 2) did not move, and a new entrant below the top N moves nobody's rows
    d = f.player("d")
    db.session.commit()
    resp = process_event("lessons", d, 2)  # 2 > c's 1: c goes 3 -> 4, outside the top N: not recorded
    fan_out()
    assert not db.session.query(LeaderboardRankChange).filter_by(source_event_id=resp["event_id"], user_id=c.id).count()
    assert top(board) == [("b", 1, 6), ("a", 2, 5)]


def test_ties_share_the_rank_and_the_earlier_achiever_is_listed_first(db):
    m = f.metric("lessons")
    board = make_board(metric=m)
    late, early, low = players(3)  # late has the lowest user id: order must come from time, not id
    process_event("lessons", low, 3, now=utc(2026, 3, 1, 8))
    process_event("lessons", early, 5, now=utc(2026, 3, 1, 9))
    resp = process_event("lessons", late, 5, now=utc(2026, 3, 1, 10))
    assert resp["leaderboards"][0]["rank"] == 1  # shares first place
    assert top(board) == [("p1", 1, 5), ("p0", 1, 5), ("p2", 3, 3)]
    # the SQL fallback orders and ranks the same way
    _, entries = svc._slice(board, "all", "global", 0, 10, use_redis=False)
    assert [(e["user_id"], e["rank"]) for e in entries] == [(early.id, 1), (late.id, 1), (low.id, 3)]
    assert svc.position(board, "all", "global", late.id)["position"] == 2
    assert svc.position(board, "all", "global", late.id, use_redis=False)["position"] == 2


def test_repeating_boards_score_within_the_period(db):
    m = f.metric("lessons")
    xp = f.system("xp")
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.streak({m: 1})
    weekly = make_board("weekly", metric=m, frequency="weekly", start=date(2026, 1, 5), now=utc(2026, 1, 5))
    forever = make_board("forever", metric=m)
    pts = make_board("xp-week", system=xp, frequency="weekly", start=date(2026, 1, 5), now=utc(2026, 1, 5))
    streak = make_board("streak", ranked_by="streak")
    u = f.player("u")
    db.session.commit()
    process_event("lessons", u, 2, now=utc(2026, 1, 9, 12))
    process_event("lessons", u, 1, now=utc(2026, 1, 10, 12))
    resp = process_event("lessons", u, 4, now=utc(2026, 1, 12, 12))  # next week
    by = {(e["key"], e["period"]): e["score"] for e in resp["leaderboards"]}
    assert by[("weekly", "2026-01-12")] == 4 and by[("forever", "all")] == 7
    assert by[("xp-week", "2026-01-12")] == 40 and by[("streak", "all")] == 1  # 11th missed: streak restarted
    assert top(weekly, "2026-01-05") == [("u", 1, 3)]
    assert top(pts, "2026-01-05") == [("u", 1, 30)]
    assert top(forever) == [("u", 1, 7)]
    assert top(streak) == [("u", 1, 1)]


def test_player_moving_city_leaves_the_old_segment(db):
    m = f.metric("lessons")
    board = make_board(metric=m, breakdown=["city"])
    a, b = players(2, attributes={"city": "rome"})
    process_event("lessons", a, 5)
    process_event("lessons", b, 3)
    from gamify.services import users

    users.identify("p0", attributes={"city": "Oslo"})
    db.session.commit()
    resp = process_event("lessons", a, 1)
    fan_out()
    assert [(e["segment"], e["rank"]) for e in resp["leaderboards"]] == [("global", 1), ("city:oslo", 1)]
    assert top(board, segment="city:rome") == [("p1", 1, 3)]
    assert top(board, segment="city:oslo") == [("p0", 1, 6)]
    moved = db.session.query(LeaderboardRankChange).filter_by(source_event_id=resp["event_id"]).all()
    assert {(x.user_id, x.segment, x.previous_rank, x.new_rank) for x in moved} == {
        (a.id, "city:rome", 1, None),
        (a.id, "city:oslo", None, 1),
        (b.id, "city:rome", 2, 1),
    }


def test_idempotent_replay_reports_current_ranks(db):
    m = f.metric("lessons")
    make_board(metric=m)
    a, b = players(2)
    process_event("lessons", a, 2, idempotency_key="k1")
    process_event("lessons", b, 5)
    replay = process_event("lessons", a, 2, idempotency_key="k1")
    assert replay["idempotent_replayed"]
    assert replay["leaderboards"] == [
        {"key": "lessons", "segment": "global", "period": "all", "rank": 2, "score": 2, "previous_rank": 2}
    ]


def test_board_created_after_events_is_filled_from_history(db):
    m = f.metric("lessons")
    a, b = players(2, attributes={"city": "rome"})
    process_event("lessons", a, 4)
    process_event("lessons", b, 6)
    board = make_board(metric=m, breakdown=["city"])
    assert top(board) == [("p1", 1, 6), ("p0", 2, 4)]
    assert top(board, segment="city:rome") == [("p1", 1, 6), ("p0", 2, 4)]


def _dump(prefixes=("lb:", "lbm:", "lbmeta:")):
    r = rk()
    out = {}
    for key in sorted(k for p in prefixes for k in redis_roles.scan(p + "*", client=r)):
        t = r.type(key)
        if t == b"zset":
            out[key] = r.zrange(key, 0, -1, withscores=True)
        elif t == b"hash":
            out[key] = sorted(r.hgetall(key).items())
        else:
            out[key] = "present"
    return out


def _many(db):
    m = f.metric("lessons")
    perpetual = make_board(metric=m, breakdown=["city", "tier"])
    weekly = make_board(
        "weekly", metric=m, frequency="weekly", start=date(2026, 1, 5), breakdown=["city"], now=utc(2026, 1, 5)
    )
    ps = [
        f.player(f"p{i}", attributes={"city": ["rome", "oslo"][i % 2], "tier": ["a", "b", "c"][i % 3]})
        for i in range(7)
    ]
    db.session.commit()
    for i, p in enumerate(ps):
        process_event("lessons", p, [3, 5, 5, 1, 8, 5, 2][i], now=utc(2026, 1, 6, 9, i))
    process_event("lessons", ps[3], 4, now=utc(2026, 1, 7, 9))
    return perpetual, weekly


def test_rebuild_after_flushall_restores_identical_rankings(db, app):
    perpetual, weekly = _many(db)
    before = _dump()
    ranks_before = {
        (seg, p): top(b, p, seg)
        for b, p in ((perpetual, "all"), (weekly, "2026-01-05"))
        for seg in ("global", "city:rome", "city:oslo")
    }
    flush_redis()
    result = app.test_cli_runner().invoke(args=["leaderboards", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "rebuilt 2" in result.output
    after = _dump()
    assert {k: v for k, v in after.items() if not k.startswith(b"lbmeta:")} == {
        k: v for k, v in before.items() if not k.startswith(b"lbmeta:")
    }
    # ... and automatically on the next read when the marker is gone
    flush_redis()
    ranks_after = {
        (seg, p): top(b, p, seg)
        for b, p in ((perpetual, "all"), (weekly, "2026-01-05"))
        for seg in ("global", "city:rome", "city:oslo")
    }
    assert ranks_after == ranks_before
    assert ranks_before[("global", "all")][:5] == [("p4", 1, 8), ("p1", 2, 5), ("p2", 2, 5), ("p5", 2, 5), ("p3", 2, 5)]


def test_events_while_redis_marker_is_missing_rank_from_sql_and_never_write_partial_sets(db):
    m = f.metric("lessons")
    board = make_board(metric=m)
    a, b = players(2)
    process_event("lessons", a, 5)
    flush_redis()
    resp = process_event("lessons", b, 7)
    assert resp["leaderboards"][0]["rank"] == 1
    assert not rk().exists(svc.zkey("lessons", "all", "global"))  # left for the rebuild
    assert top(board) == [("p1", 1, 7), ("p0", 2, 5)]


@pytest.mark.skipif(RANKINGS_ON_CLUSTER, reason="stops the single Redis; the rankings are on the cluster")
def test_redis_down_event_succeeds_and_rankings_catch_up(db, app, redis_server, caplog):
    m = f.metric("lessons")
    board = make_board(metric=m)
    a, b = players(2)
    key = f.api_key()
    client = app.test_client()
    process_event("lessons", a, 5)
    redis_server["stop"]()
    try:
        with caplog.at_level(logging.WARNING, logger="gamify.services.leaderboards"):
            resp = client.post(
                "/api/v1/metrics/lessons/event", json={"user": {"id": "p1"}, "value": 7}, headers={"X-API-Key": key}
            )
        assert resp.status_code == 201, resp.get_json()
        assert resp.get_json()["leaderboards"][0] == {
            "key": "lessons",
            "segment": "global",
            "period": "all",
            "rank": 1,
            "score": 7,
            "previous_rank": None,
        }
        assert any("Redis" in r.getMessage() for r in caplog.records)
        db.session.expire_all()
        assert db.session.get(Leaderboard, board.id).redis_dirty
        assert db.session.query(LeaderboardScore).filter_by(user_id=b.id).one().score == 7
        assert top(board) == [("p1", 1, 7), ("p0", 2, 5)]  # read from SQL meanwhile
    finally:
        redis_server["start"]()
    assert top(board) == [("p1", 1, 7), ("p0", 2, 5)]  # rebuilt on read
    db.session.commit()
    assert not db.session.get(Leaderboard, board.id).redis_dirty
    assert [s for _, s in zset(svc.zkey("lessons", "all", "global"))] == [7.0, 5.0]


def test_redis_blip_with_data_kept_marks_dirty_and_rebuilds(db, monkeypatch):
    """Redis unreachable for one event but its data survives: the marker alone would hide the missed
    write, the dirty flag in SQL does not."""
    m = f.metric("lessons")
    board = make_board(metric=m)
    a, b = players(2)
    process_event("lessons", a, 5)

    from flask import current_app

    import gamify.queue

    url = current_app.config["REDIS_URL"]
    # the network to Redis is gone for this event (nothing listens on port 1): every caller sees it
    unreachable = redis_lib.Redis.from_url("redis://127.0.0.1:1/0")
    monkeypatch.setitem(gamify.queue._clients, url, unreachable)
    monkeypatch.setattr(redis_roles, "rankings_redis", lambda: unreachable)  # also when on a cluster
    resp = process_event("lessons", b, 9)
    assert resp["leaderboards"][0]["rank"] == 1  # ranked from SQL
    monkeypatch.undo()
    assert rk().exists(svc.meta_key("lessons"))  # marker still there, but data is stale
    assert len(zset(svc.zkey("lessons", "all", "global"))) == 1
    db.session.expire_all()
    assert db.session.get(Leaderboard, board.id).redis_dirty
    assert top(board) == [("p1", 1, 9), ("p0", 2, 5)]
    assert len(zset(svc.zkey("lessons", "all", "global"))) == 2


def test_weekly_board_finalised_only_after_the_last_time_zone(db):
    m = f.metric("lessons")
    board = make_board("weekly", metric=m, frequency="weekly", start=date(2026, 1, 5), now=utc(2026, 1, 5))
    kiri = f.player("kiri", tz="Pacific/Kiritimati")  # UTC+14
    pago = f.player("pago", tz="Pacific/Pago_Pago")  # UTC-11
    db.session.commit()
    r1 = process_event("lessons", kiri, 3, now=utc(2026, 1, 11, 9, 30))  # Sun 11 Jan 23:30 local
    r2 = process_event("lessons", kiri, 2, now=utc(2026, 1, 11, 10, 30))  # Mon 12 Jan 00:30 local: next week
    r3 = process_event("lessons", pago, 4, now=utc(2026, 1, 12, 10, 30))  # Sun 11 Jan 23:30 local
    assert [e["period"] for e in (r1, r2, r3) for e in e["leaderboards"]] == ["2026-01-05", "2026-01-12", "2026-01-05"]
    for not_yet in (
        utc(2026, 1, 11, 10, 0),  # Kiritimati's midnight
        utc(2026, 1, 12, 11, 0),  # Pago Pago's midnight
        utc(2026, 1, 12, 11, 59, 59),
    ):  # UTC-12 still on Sunday
        assert svc.finalise_due(not_yet) == []
    done = svc.finalise_due(utc(2026, 1, 12, 12, 0))
    db.session.commit()
    assert [(d["period_start"], d["period_end"], d["participants"]) for d in done] == [("2026-01-05", "2026-01-11", 2)]
    assert svc.finalise_due(utc(2026, 1, 12, 12, 5)) == []  # idempotent
    run = db.session.query(LeaderboardRun).filter_by(leaderboard_id=board.id, segment="global").one()
    assert [(e["external_id"], e["rank"], e["score"]) for e in run.rankings] == [("pago", 1, 4), ("kiri", 2, 3)]
    assert run.period_end == date(2026, 1, 11)
    db.session.expire_all()
    assert db.session.get(Leaderboard, board.id).current_period_start == date(2026, 1, 12)
    types = [
        e.type
        for e in db.session.query(DomainEvent)
        .filter(DomainEvent.type.in_(["leaderboard.finished", "leaderboard.started"]))
        .order_by(DomainEvent.id)
    ]
    assert types == ["leaderboard.started", "leaderboard.finished", "leaderboard.started"]
    assert not rk().exists(svc.zkey("weekly", "2026-01-05", "global"))
    assert rk().exists(svc.closed_key("weekly", "2026-01-05"))
    assert top(board, "2026-01-12") == [("kiri", 1, 2)]


def test_a_finalised_period_keeps_the_live_tie_order(db):
    """Ties in the archive as in the live ranking: equal scores share the rank, the one who reached the
    score first is listed first, the next rank skips (1, 1, 3)."""
    m = f.metric("lessons")
    board = make_board("daily", metric=m, frequency="daily", start=date(2026, 1, 5), now=utc(2026, 1, 5))
    late, early, low = f.player("late"), f.player("early"), f.player("low")
    db.session.commit()
    process_event("lessons", early, 5, now=utc(2026, 1, 5, 9))
    process_event("lessons", low, 2, now=utc(2026, 1, 5, 10))
    process_event("lessons", late, 5, now=utc(2026, 1, 5, 11))
    live = top(board, "2026-01-05")
    assert live == [("early", 1, 5), ("late", 1, 5), ("low", 3, 2)]
    svc.finalise_due(utc(2026, 1, 6, 12, 0))
    db.session.commit()
    run = db.session.query(LeaderboardRun).filter_by(leaderboard_id=board.id, segment="global").one()
    assert [(e["external_id"], e["rank"], e["score"]) for e in run.rankings] == live


def test_late_redis_write_after_the_archive_is_dropped_not_resurrected(db):
    """An event committed into the period before the archive, whose Redis write arrives after the reset:
    the archive (from SQL) has it, and the closed marker keeps the old live key from coming back."""
    m = f.metric("lessons")
    board = make_board("daily", metric=m, frequency="daily", start=date(2026, 1, 5), now=utc(2026, 1, 5))
    u = f.player("u")
    db.session.commit()
    process_event("lessons", u, 2, now=utc(2026, 1, 5, 20), commit=False)
    delayed = db.session.info.pop(after_commit._PENDING)  # the Redis write, held back ...
    db.session.commit()  # ... past the commit
    svc.finalise_due(utc(2026, 1, 6, 12))
    db.session.commit()
    db.session.info[after_commit._READY] = delayed  # the held-back Redis write arrives now
    after_commit.run(db.session())
    assert not rk().exists(svc.zkey("daily", "2026-01-05", "global"))
    run = db.session.query(LeaderboardRun).filter_by(leaderboard_id=board.id, segment="global").one()
    assert [e["score"] for e in run.rankings] == [2]


def test_archive_and_reset_lose_nothing_under_concurrent_writers(db, app):
    m = f.metric("lessons")
    board = make_board(
        "daily",
        metric=m,
        frequency="daily",
        start=date(2026, 1, 5),
        limit=1000,
        breakdown=["team"],
        now=utc(2026, 1, 5),
    )
    ps = [f.player(f"w{i}", attributes={"team": "ab"[i % 2]}) for i in range(6)]
    db.session.commit()
    ids = [p.id for p in ps]
    db.session.commit()  # end our transaction: on SQLite it would hold the write lock
    per_writer, started = 25, threading.Barrier(len(ids) + 1)
    halfway = threading.Event()
    written, errors, lock = [0], [], threading.Lock()

    def writer(uid):
        with app.app_context():
            from gamify.models import User

            try:
                started.wait()
                for i in range(per_writer):
                    user = _db.session.get(User, uid)
                    # every event happens on 5 January; those committing after the archive roll into the 6th
                    process_event("lessons", user, 1, now=utc(2026, 1, 5, 22, 0, i))
                    with lock:
                        written[0] += 1
                        if written[0] >= len(ids) * per_writer // 3:
                            halfway.set()
            except Exception as e:  # pragma: no cover - reported below
                errors.append(repr(e))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=writer, args=(uid,)) for uid in ids]
    for t in threads:
        t.start()
    started.wait()
    assert halfway.wait(60), (errors, written)
    done = svc.finalise_due(utc(2026, 1, 6, 12))
    db.session.commit()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(done) == 1
    total = len(ids) * per_writer
    assert written[0] == total
    db.session.expire_all()
    runs = {r.segment: r for r in db.session.query(LeaderboardRun).filter_by(leaderboard_id=board.id)}
    archived = sum(e["score"] for e in runs["global"].rankings)
    assert 0 < archived < total  # the reset really happened in the middle of the writes
    live_sql = sum(
        s
        for (s,) in db.session.query(LeaderboardScore.score).filter_by(
            leaderboard_id=board.id, period="2026-01-06", segment="global"
        )
    )
    assert archived + live_sql == total
    live_redis = sum(s for _, s in zset(svc.zkey("daily", "2026-01-06", "global")))
    assert live_redis == live_sql
    # segments add up the same way (a team whose writers had not run yet has no run at all)
    assert sum(e["score"] for seg in ("team:a", "team:b") if seg in runs for e in runs[seg].rankings) == archived
    assert not rk().exists(svc.zkey("daily", "2026-01-05", "global"))
    assert top(board, "2026-01-06", limit=1000) and sum(x[2] for x in top(board, "2026-01-06", limit=1000)) == live_sql


def test_the_finalise_job_commits_its_own_transaction_and_skips_empty_periods(db, app):
    from gamify import jobs

    m = f.metric("lessons")
    board = make_board("daily", metric=m, frequency="daily", start=date(2020, 1, 1), now=utc(2020, 1, 1))
    u = f.player("u")
    db.session.commit()
    process_event("lessons", u, 2, now=utc(2020, 1, 2, 12))
    # years later: one run (2 January), the empty days are skipped at once
    assert jobs.finalise_leaderboards() == "done: 1 period(s) finalised"
    (run,) = db.session.query(LeaderboardRun).filter_by(leaderboard_id=board.id, segment="global").all()
    assert (run.period_start.isoformat(), run.participants) == ("2020-01-02", 1)
    db.session.rollback()  # nothing was left uncommitted
    db.session.expire_all()
    start = db.session.get(Leaderboard, board.id).current_period_start
    assert start >= date.today() - __import__("datetime").timedelta(days=2)
    assert jobs.finalise_leaderboards() == "done: 0 period(s) finalised"
    assert db.session.query(LeaderboardRun).filter_by(leaderboard_id=board.id).count() == 1
    started = db.session.query(DomainEvent).filter_by(type="leaderboard.started").order_by(DomainEvent.id).all()
    assert [e.payload["period_start"] for e in started] == ["2020-01-01", start.isoformat()]


def test_cli_finalise_and_recompute(db, app):
    m = f.metric("lessons")
    board = make_board("daily", metric=m, frequency="daily", start=date(2026, 1, 5), now=utc(2026, 1, 5))
    u = f.player("u")
    db.session.commit()
    process_event("lessons", u, 3, now=utc(2026, 1, 5, 9))
    runner = app.test_cli_runner()
    out = runner.invoke(args=["leaderboards", "finalise", "--now", "2026-01-06T11:59:00"])
    assert out.exit_code == 0 and "finalised 0" in out.output
    out = runner.invoke(args=["leaderboards", "finalise", "--now", "2026-01-06T12:00:00"])
    assert out.exit_code == 0 and "daily: 2026-01-05..2026-01-05 (1 players)" in out.output
    db.session.query(LeaderboardScore).filter_by(period="2026-01-06").delete()
    db.session.commit()
    process_event("lessons", u, 2, now=utc(2026, 1, 6, 13))
    db.session.query(LeaderboardScore).delete()  # lose the open period's rows: recompute restores them
    db.session.commit()
    out = runner.invoke(args=["leaderboards", "recompute", "daily"])
    assert out.exit_code == 0, out.output
    assert top(board, "2026-01-06") == [("u", 1, 2)]
    assert runner.invoke(args=["leaderboards", "rebuild", "--key", "nope"]).exit_code != 0


def test_event_that_finds_the_redis_copy_missing_asks_a_worker_to_rebuild(db, app):
    from rq import Queue
    from rq.job import Job

    from gamify import jobs

    m = f.metric("lessons")
    board = make_board("lessons", metric=m)
    a, b = f.player("a"), f.player("b")
    process_event("lessons", a, 3)
    flush_redis()  # Redis lost everything (restart without persistence)
    r = process_event("lessons", b, 5)
    assert [e["rank"] for e in r["leaderboards"]] == [1]  # ranked from SQL meanwhile
    job = Job.fetch("leaderboards-rebuild", connection=get_redis())
    assert job.func_name == "gamify.jobs.rebuild_leaderboards"
    assert "leaderboards-rebuild" in Queue("default", connection=get_redis()).job_ids
    assert jobs.rebuild_leaderboards() == "rebuilt: ['lessons']"
    assert rk().exists(svc.meta_key(board.key))
    assert top(board) == [("b", 1, 5), ("a", 2, 3)]
    Job.fetch("leaderboards-rebuild", connection=get_redis()).delete()
    process_event("lessons", a, 1)  # Redis is whole again: no further rebuild is asked for
    assert "leaderboards-rebuild" not in Queue("default", connection=get_redis()).job_ids


def fan_out():
    """What the worker does after events commit: the rank changes of the players they overtook."""
    from gamify.services import rank_fanout

    rank_fanout.run_all()


def _brute_force_shifts(scores: dict, mover: int, old, new, limit: int) -> set:
    """Everyone else whose competition rank (1 + players strictly ahead) changes inside the top `limit`."""

    def ranks(mover_score):
        s = {u: v for u, v in scores.items() if u != mover}
        if mover_score is not None:
            s[mover] = mover_score
        return {u: 1 + sum(1 for w in s.values() if w > v) for u, v in s.items()}

    before, after = ranks(old), ranks(new)
    return {
        (u, before[u], after[u])
        for u in scores
        if u != mover and before[u] != after[u] and (before[u] <= limit or after[u] <= limit)
    }


def test_others_rank_changes_match_a_brute_force_ranking_with_ties_and_a_top_n(db):
    """The rank fan-out (a worker, after the commit) agrees with recomputing every rank, climbing and
    falling, with tied scores and a top-N cut."""
    import random

    rng = random.Random(11)
    m = f.metric("lessons", allow_negative=True)
    limit = 4
    make_board(metric=m, limit=limit)
    people = players(9)
    scores = {}
    for u in people:
        scores[u.id] = rng.choice((2, 3, 3, 5, 5, 8))
        process_event("lessons", u, scores[u.id])
    for step in range(24):
        mover = rng.choice(people)
        delta = rng.choice((-4, -2, -1, 1, 2, 3, 5))
        old, new = scores[mover.id], scores[mover.id] + delta
        expected = _brute_force_shifts(scores, mover.id, old, new, limit)
        ev = process_event("lessons", mover, delta)["event_id"]
        fan_out()
        scores[mover.id] = new
        got = {
            (x.user_id, x.previous_rank, x.new_rank)
            for x in db.session.query(LeaderboardRankChange).filter_by(source_event_id=ev)
            if x.user_id != mover.id
        }
        assert got == expected, (step, old, new)
        outbox = {
            (e.user_id, e.payload["previous_rank"], e.payload["new_rank"])
            for e in db.session.query(DomainEvent).filter_by(type="leaderboard.rank_changed", source_event_id=ev)
            if e.user_id != mover.id
        }
        assert outbox == got
        assert all(
            e.payload["by_user_id"] == mover.id and e.payload["leaderboard"] == "lessons"
            for e in db.session.query(DomainEvent).filter_by(source_event_id=ev)
            if e.type == "leaderboard.rank_changed" and e.user_id != mover.id
        )


def test_a_rolled_back_event_never_reaches_the_redis_ranking(db):
    """The leaderboard step ran (scores computed, Redis writes queued), then a later step failed: the
    transaction rolls back and the ranking never shows the score, not even after the next commit."""
    import pytest

    from gamify.pipeline import core

    m = f.metric("lessons")
    board = make_board(metric=m)
    a, b = players(2)
    process_event("lessons", a, 3)

    class Boom(core.Feature):
        name = "boom"

        def written(self, run, returned):  # after the write statement, before the commit
            raise RuntimeError("a later step failed")

    boom = Boom()
    core.register(boom)
    try:
        with pytest.raises(RuntimeError):
            process_event("lessons", b, 50)
    finally:
        core.FEATURES.remove(boom)
    db.session.rollback()
    db.session.commit()  # an unrelated commit must not flush the dropped write either
    assert zset(svc.zkey("lessons", "all", "global")) == [(svc.engine.encode_member(a.id, _achieved(a)), 3.0)]
    assert top(board) == [("p0", 1, 3)]


def _achieved(user):
    return _db.session.query(LeaderboardScore).filter_by(user_id=user.id, segment="global").one().achieved_at


def test_a_streak_lost_by_settlement_leaves_the_streak_board_at_once(db):
    """Ann led "longest current streak" with 3 days, then stopped. When her streak is settled (a read, or
    the scheduled settlement) she drops to 0 on the board, in SQL and in Redis, without another event of
    hers; Bob, who kept going, leads; the fan-out tells Bob he moved up."""
    from gamify.models import LeaderboardRankChange
    from gamify.services import rank_fanout, streaks

    m = f.metric("lessons")
    f.streak({m: 1})
    board = make_board("streak", ranked_by="streak")
    ann, bob = f.player("ann"), f.player("bob")
    db.session.commit()
    for day in (1, 2, 3):
        process_event("lessons", ann, 1, now=utc(2026, 1, day, 12))
    for day in (3, 4):
        process_event("lessons", bob, 1, now=utc(2026, 1, day, 12))
    rank_fanout.run_all()
    db.session.commit()
    assert top(board) == [("ann", 1, 3), ("bob", 2, 2)]
    change = streaks.settle_user(ann, now=utc(2026, 1, 5, 12))  # she missed the 4th
    assert change.broken
    db.session.commit()
    assert top(board) == [("bob", 1, 2), ("ann", 2, 0)]  # Redis
    _, entries = svc._slice(board, "all", "global", 0, 10, use_redis=False)  # SQL
    assert [(e["user_id"], e["score"]) for e in entries] == [(bob.id, 2), (ann.id, 0)]
    rank_fanout.run_all()
    db.session.commit()
    moved = (
        db.session.execute(
            db.select(LeaderboardRankChange)
            .where(LeaderboardRankChange.user_id == bob.id)
            .order_by(LeaderboardRankChange.id)
        )
        .scalars()
        .all()
    )
    assert moved and moved[-1].new_rank == 1
