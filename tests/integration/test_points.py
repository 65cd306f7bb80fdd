"""Points: triggers, boost stacking with rounding, caps, levels, ledger."""

import pytest

from gamify.engine import points as engine
from gamify.models import PointsAward
from gamify.services import points as svc
from gamify.services.events import process_event
from tests import factories as f


@pytest.mark.parametrize("rounding,expected", [("floor", 7), ("ceil", 8), ("nearest", 8)])
def test_boosts_stack_multiplicatively_with_each_rounding_mode(db, rounding, expected):
    m = f.metric("lessons")
    xp = f.system("xp")
    f.trigger(xp, "metric", 5, metric_id=m.id)
    f.boost(xp, 2, rounding=rounding)
    f.boost(xp, 1.5, rounding=rounding)
    u = f.player()
    r = process_event("lessons", u, 1)
    assert r["points"]["xp"]["added"] == 15  # 5 * 2 * 1.5 = 3x, exact
    award = db.session.execute(db.select(PointsAward)).scalar_one()
    assert (award.base_amount, award.boost_multiplier, award.amount) == (5, 3.0, 15)
    assert award.source_event_id == r["event_id"] and award.trigger_type == "metric"
    # 2.5 * 3 = 7.5: rounding mode decides.
    assert engine.boosted(5, [2, 0.75], rounding)[0] == expected


def test_boost_outside_its_window_or_filter_does_not_apply(db):
    m = f.metric("lessons")
    xp = f.system("xp")
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.boost(xp, 2, starts=f.utc(2026, 1, 1), ends=f.utc(2026, 1, 2))
    f.boost(xp, 3, attribute_filters={"tier": "premium"})
    u = f.player(attributes={"tier": "free"})
    assert process_event("lessons", u, 1, now=f.utc(2026, 1, 1, 12))["points"]["xp"]["added"] == 20
    assert process_event("lessons", u, 1, now=f.utc(2026, 1, 2, 0))["points"]["xp"]["added"] == 10


def test_metric_trigger_per_units_accumulates_across_events(db):
    minutes = f.metric("minutes")
    xp = f.system("xp")
    f.trigger(xp, "metric", 10, metric_id=minutes.id, per_units=30)
    u = f.player()
    added = [process_event("minutes", u, v)["points"]["xp"]["added"] for v in (25, 25, 70)]
    assert added == [0, 10, 30]


def test_daily_cap_and_balance_max(db):
    m = f.metric("lessons")
    xp = f.system("xp", daily_cap=25)
    hearts = f.system("hearts", max_balance=5)
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.trigger(hearts, "metric", 2, metric_id=m.id)
    u = f.player(tz="Asia/Tokyo")
    res = [process_event("lessons", u, 1, now=f.utc(2026, 1, 1, h)) for h in (1, 2, 3, 4)]
    assert [r["points"]["xp"]["added"] for r in res] == [10, 10, 5, 0]
    assert [r["points"]["hearts"]["total"] for r in res] == [2, 4, 5, 5]
    # 15:00 UTC is the next local day in Tokyo: the cap resets.
    assert process_event("lessons", u, 1, now=f.utc(2026, 1, 1, 15))["points"]["xp"]["added"] == 10


def test_level_change_reported_once(db):
    m = f.metric("lessons")
    xp = f.system("xp", levels=[("bronze", "Bronze", 0), ("silver", "Silver", 25), ("gold", "Gold", 50)])
    f.trigger(xp, "metric", 10, metric_id=m.id)
    u = f.player()
    res = [process_event("lessons", u, 1)["points"]["xp"] for _ in range(3)]
    assert res[0]["level"]["key"] == "bronze"
    assert "level" not in res[1]
    assert res[2]["level"]["key"] == "silver" and res[2]["total"] == 30
    assert svc.summary(u, xp)["next_level"]["key"] == "gold"


def test_level_changed_events_name_both_levels(db):
    """points.level_changed carries the previous and the new level (key, name, threshold), from the event
    path and from an award outside events (an admin taking points away)."""
    from gamify.models import DomainEvent

    m = f.metric("lessons")
    xp = f.system("xp", levels=[("bronze", "Bronze", 0), ("silver", "Silver", 25), ("gold", "Gold", 50)])
    f.trigger(xp, "metric", 10, metric_id=m.id)
    u = f.player()
    for _ in range(3):
        process_event("lessons", u, 1)  # 10 (bronze), 20, 30 (silver)
    svc.award(u, xp, -25, "admin", reason="correction")  # 5: back to bronze
    db.session.flush()
    changes = [
        e.payload
        for e in db.session.execute(
            db.select(DomainEvent).where(DomainEvent.type == "points.level_changed").order_by(DomainEvent.id)
        ).scalars()
    ]
    bronze = {"key": "bronze", "name": "Bronze", "threshold": 0, "badge": ""}
    silver = {"key": "silver", "name": "Silver", "threshold": 25, "badge": ""}
    assert [(c["previous_level"], c["new_level"], c["direction"]) for c in changes] == [
        (None, bronze, "up"),
        (bronze, silver, "up"),
        (silver, bronze, "down"),
    ]
    assert all("from_level_id" not in c and c["system"] == "xp" for c in changes)


def test_points_on_every_day_of_a_streak_optionally_times_its_length(db):
    """streak_day triggers: 5 points on each extension, and 2 x the length on another system."""
    m = f.metric("lessons")
    f.streak({m: 1})
    xp, gems = f.system("xp"), f.system("gems")
    f.trigger(xp, "streak_day", 5)
    f.trigger(gems, "streak_day", 2, times_length=True)
    u = f.player()
    got = []
    for day in (1, 2, 3):
        r = process_event("lessons", u, 1, now=f.utc(2026, 1, day, 9))
        got.append((r["points"]["xp"]["added"], r["points"]["gems"]["added"]))
    again = process_event("lessons", u, 1, now=f.utc(2026, 1, 3, 18))  # same day: not an extension
    assert got == [(5, 2), (5, 4), (5, 6)]
    assert again["points"]["xp"]["added"] == 0 and again["points"]["xp"]["total"] == 15
    assert svc.summary(u, gems)["total"] == 12


def test_points_every_day_at_the_players_local_midnight(db):
    """A daily bonus at local midnight: Tokyo gets it when its day begins, London nine hours later; a late
    or repeated run never awards a day twice; the day whose midnight came before the trigger existed is
    not awarded."""
    import time_machine

    from gamify import jobs

    gems = f.system("gems")
    with time_machine.travel(f.utc(2026, 1, 9, 12), tick=False):  # created on 9 January, midday UTC
        f.trigger(gems, "local_midnight", 10)
        db.session.commit()
    tokyo, london = f.player("tk", tz="Asia/Tokyo"), f.player("ld", tz="Europe/London")
    db.session.commit()

    def totals():
        return (svc.summary(tokyo, gems)["total"], svc.summary(london, gems)["total"])

    with time_machine.travel(f.utc(2026, 1, 9, 14), tick=False):  # 23:00 in Tokyo, 14:00 in London
        assert jobs.time_interval_points() == 0  # both days began before the trigger existed
    with time_machine.travel(f.utc(2026, 1, 9, 15, 5), tick=False):  # 00:05 on 10 Jan in Tokyo
        assert jobs.time_interval_points() == 1
        assert jobs.time_interval_points() == 0  # again: not twice
    assert totals() == (10, 0)
    with time_machine.travel(f.utc(2026, 1, 10, 0, 10), tick=False):  # 00:10 on 10 Jan in London
        assert jobs.time_interval_points() == 1
    assert totals() == (10, 10)
    with time_machine.travel(f.utc(2026, 1, 11, 7), tick=False):  # a late run: both on 11 Jan now
        assert jobs.time_interval_points() == 2
    assert totals() == (20, 20)


def test_negative_trigger_and_streak_achievement_signup_triggers(db):
    m = f.metric("lessons")
    f.streak({m: 1})
    xp = f.system("xp")
    gems = f.system("gems")
    a = f.achievement("first", "metric", metric_id=m.id, threshold=1)
    f.trigger(gems, "signup", 50)
    f.trigger(xp, "streak", 100, streak_length=2)
    f.trigger(gems, "achievement", 5, achievement_id=a.id)
    f.trigger(xp, "metric", -1, metric_id=m.id)
    u = f.player()
    assert svc.summary(u, gems)["total"] == 50
    r1 = process_event("lessons", u, 1, now=f.utc(2026, 1, 1))
    assert r1["points"]["gems"]["added"] == 5 and r1["points"]["xp"]["added"] == -1
    r2 = process_event("lessons", u, 1, now=f.utc(2026, 1, 2))
    assert r2["points"]["xp"]["added"] == 99


def test_time_interval_trigger_awards_once_per_interval(db):
    xp = f.system("xp")
    f.trigger(xp, "time_interval", 3, interval_hours=24)
    u = f.player()
    assert svc.run_time_interval_triggers(f.utc(2026, 1, 1, 0)) == 1
    assert svc.run_time_interval_triggers(f.utc(2026, 1, 1, 12)) == 0
    assert svc.run_time_interval_triggers(f.utc(2026, 1, 2, 0)) == 1
    assert svc.summary(u, xp)["total"] == 6


def test_spend_never_overdraws(db):
    gems = f.system("gems")
    u = f.player()
    svc.award(u, gems, 5, "admin")
    with pytest.raises(svc.PointsError):
        svc.award(u, gems, -6, "spend")
    assert svc.award(u, gems, -5, "spend")["total"] == 0


def test_a_batch_counts_its_own_awards_against_the_daily_cap(db):
    """The cap is applied as the batch goes, from what its earlier events earned (nothing in the database
    yet). xp: cap 25, 10 per lesson; coins: cap 2, 1 per lesson; gems: uncapped, 1 per lesson, boosted x2.
    u's lessons 1, 3, 1: xp 10, then 15 of 30 (cap), then 0; coins 1, 1 of 3, 0; gems 2, 6, 2. A trigger
    capped to nothing still writes its ledger row (amount 0). v's single event of 3: 25 of 30."""
    from gamify.models import PointsSystem
    from gamify.services.events import EventIn, process_batch

    m = f.metric("lessons")
    xp = f.system("xp", daily_cap=25)
    coins = f.system("coins", daily_cap=2)
    gems = f.system("gems")
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.trigger(coins, "metric", 1, metric_id=m.id)
    f.trigger(gems, "metric", 1, metric_id=m.id)
    f.boost(gems, 2)
    u, v = f.player("u"), f.player("v")
    at = f.utc(2030, 6, 1, 12)
    results = process_batch([EventIn("lessons", u, 1), EventIn("lessons", u, 3), EventIn("lessons", u, 1)], now=at)
    added = [{k: p["added"] for k, p in r.response["points"].items()} for r in results]
    assert added == [
        {"xp": 10, "coins": 1, "gems": 2},
        {"xp": 15, "coins": 1, "gems": 6},
        {"xp": 0, "coins": 0, "gems": 2},
    ]
    assert results[2].response["points"]["xp"]["total"] == 25
    ids = {s.key: s.id for s in db.session.execute(db.select(PointsSystem)).scalars()}
    ledger = db.session.execute(
        db.select(PointsAward.system_id, PointsAward.amount, PointsAward.base_amount)
        .where(PointsAward.user_id == u.id)
        .order_by(PointsAward.id)
    ).all()
    by_system = {key: [(a, b) for s, a, b in ledger if s == sid] for key, sid in ids.items()}
    assert by_system == {
        "xp": [(10, 10), (15, 30), (0, 10)],
        "coins": [(1, 1), (1, 3), (0, 1)],
        "gems": [(2, 1), (6, 3), (2, 1)],
    }
    assert process_event("lessons", v, 3, now=at)["points"]["xp"]["added"] == 25


def test_an_award_outside_events_reports_writes_and_announces_each_field(db):
    """An admin award of 30 into a system with levels at 0 and 25, worked out by hand: the answer, the
    ledger row, the balance row, the two outbox events (tied to the event it names) and the level-up
    notice with its link and the words' parameters; then one that changes nothing writes nothing."""
    from gamify.models import DomainEvent, Notification, PointsBalance

    xp = f.system("xp", name="Experience", levels=[("bronze", "Bronze", 0), ("silver", "Silver", 25)])
    f.metric("lessons")  # no trigger: the event only gives the award an event to name
    u = f.player()
    at = f.utc(2026, 5, 4, 12)
    event_id = process_event("lessons", u, 1, now=at)["event_id"]
    res = svc.award(u, xp, 30, "admin", reason="welcome gift", source_event_id=event_id, now=at)
    db.session.flush()
    silver = {"key": "silver", "name": "Silver", "threshold": 25, "badge": ""}
    assert {k: v for k, v in res.items() if k != "award"} == {
        "added": 30,
        "total": 30,
        "level_changed": True,
        "level": silver,
    }
    row = db.session.execute(db.select(PointsAward)).scalar_one()
    assert res["award"] is row
    assert (row.amount, row.base_amount, row.trigger_type, row.reason, row.source_event_id, row.awarded_at) == (
        30,
        30,
        "admin",
        "welcome gift",
        event_id,
        at,
    )
    bal = db.session.get(PointsBalance, (u.id, xp.id))
    assert (bal.balance, bal.updated_at) == (30, at) and bal.level_id is not None
    points_events = db.select(DomainEvent).where(DomainEvent.type.like("points.%")).order_by(DomainEvent.id)
    events = db.session.execute(points_events).scalars().all()
    assert [(e.type, e.user_id, e.source_event_id) for e in events] == [
        ("points.changed", u.id, event_id),
        ("points.level_changed", u.id, event_id),
    ]
    assert events[0].payload == {"system": "xp", "added": 30, "total": 30}
    [notice] = db.session.execute(db.select(Notification)).scalars().all()
    assert (notice.user_id, notice.type, notice.link, notice.message, notice.params) == (
        u.id,
        "level_up",
        "/points",
        "level_up",
        {"system": "Experience", "level": "Silver"},
    )
    assert "Silver" in notice.title
    # Nothing to add: the same answer shape, and no ledger row, event or notice.
    assert svc.award(u, xp, 0, "admin", now=at) == {"added": 0, "total": 30, "level_changed": False, "level": None}
    db.session.flush()
    assert db.session.execute(db.select(db.func.count(PointsAward.id))).scalar() == 1
    assert len(db.session.execute(points_events).scalars().all()) == 2
