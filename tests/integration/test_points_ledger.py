"""The points ledger. Outside metric events (services/points.py): the triggers an achievement completed
through the API fires, boosts and the daily cap on such awards, the scheduled triggers, admin corrections,
level ladders recomputed, and the reads of the points pages. In events (pipeline/points.py): the daily cap
over the player's local day, boost windows, levels and their notices. Expected values are worked out by
hand in each test."""

from datetime import timedelta

import pytest

from gamify.models import DomainEvent, Notification, PointsAward, PointsBalance, PointsLevel, PointsTrigger
from gamify.services import points as svc
from gamify.services.events import EventIn, process_batch, process_event
from tests import factories as f

NOW = f.utc(2030, 1, 1, 9)  # far from the real clock: a `now` dropped on the way shows


def awards(db, user_id):
    rows = db.session.execute(
        db.select(PointsAward).where(PointsAward.user_id == user_id).order_by(PointsAward.id)
    ).scalars()
    return [(a.system_id, a.amount, a.base_amount, a.trigger_type, a.trigger_id, a.reason) for a in rows]


def event_id(user):
    """A recorded event to name as the awards' source (a metric with no triggers)."""
    f.metric("visits", "Visits", "visits")
    return process_event("visits", user, 1, now=NOW)["event_id"]


def test_an_achievement_outside_events_awards_the_metric_streak_and_achievement_triggers_it_fires(db):
    lessons, minutes = f.metric("lessons"), f.metric("minutes", "Minutes", "minutes")
    xp = f.system("xp", levels=[("bronze", "Bronze", 0), ("silver", "Silver", 25)])
    gems, hearts = f.system("gems"), f.system("hearts")
    f.system("stars")  # no balance, nothing fired: 0
    first = f.achievement("first", "metric", metric_id=lessons.id, threshold=1)
    other = f.achievement("other", "metric", metric_id=lessons.id, threshold=5)
    premium_only = f.trigger(xp, "metric", 100, metric_id=lessons.id, attribute_filters={"tier": "premium"})
    per_30 = f.trigger(xp, "metric", 10, metric_id=lessons.id, per_units=30, attribute_filters={"tier": "free"})
    f.trigger(gems, "metric", 3, metric_id=minutes.id)  # another metric: not this event's
    milestone = f.trigger(gems, "streak", 7, streak_length=3)
    f.trigger(gems, "streak", 70, streak_length=4)
    unlocked = f.trigger(xp, "achievement", 5, achievement_id=first.id)
    f.trigger(gems, "achievement", 50, achievement_id=other.id)  # not unlocked now
    f.boost(gems, 2, attribute_filters={"tier": "premium"})
    u = f.player("u", attributes={"tier": "premium"})  # stored premium; the call's attributes say free
    someone = f.player("someone")
    svc.award(u, gems, 10, "admin", boosts=False)
    svc.award(u, hearts, 4, "admin")
    svc.award(someone, hearts, 9, "admin")
    source = event_id(u)

    got = svc.evaluate_event(u, lessons.id, 20, 70, 3, [first.id], {"tier": "free"}, source, NOW)

    # 20 -> 70 crosses 30 and 60: 2 x 10 XP; the achievement 5 more: 25, silver (bronze on the way). The
    # streak reached 3: 7 gems on top of 10 (the premium boost does not apply: the call says free).
    silver = {"key": "silver", "name": "Silver", "threshold": 25, "badge": ""}
    assert got == {
        "xp": {"added": 25, "total": 25, "level": silver},
        "gems": {"added": 7, "total": 17},
        "hearts": {"added": 0, "total": 4},
        "stars": {"added": 0, "total": 0},
    }
    assert premium_only.id not in [a[4] for a in awards(db, u.id)]
    assert awards(db, u.id)[-3:] == [
        (xp.id, 20, 20, "metric", per_30.id, f"metric trigger #{per_30.id}"),
        (gems.id, 7, 7, "streak", milestone.id, f"streak trigger #{milestone.id}"),
        (xp.id, 5, 5, "achievement", unlocked.id, f"achievement trigger #{unlocked.id}"),
    ]
    rows = db.session.execute(db.select(PointsAward).where(PointsAward.trigger_id.is_not(None))).scalars().all()
    assert {(r.source_event_id, r.awarded_at, r.local_date) for r in rows} == {(source, NOW, NOW.date())}


def test_no_trigger_fires_without_a_streak_or_an_unlocked_achievement(db):
    lessons = f.metric("lessons")
    xp = f.system("xp")
    f.trigger(xp, "streak", 7, streak_length=3)
    f.trigger(xp, "metric", 4, metric_id=lessons.id)
    u = f.player()
    assert svc.evaluate_event(u, lessons.id, 0, 1, None, [], {}, None, NOW) == {"xp": {"added": 4, "total": 4}}


def test_boosts_on_awards_outside_events_count_from_their_start_until_just_before_their_end(db):
    xp, gems = f.system("xp"), f.system("gems")
    f.boost(xp, 2, starts=NOW, ends=NOW + timedelta(hours=1))  # starts now: applies
    f.boost(xp, 3, starts=NOW - timedelta(hours=1), ends=NOW)  # ended now: does not
    f.boost(gems, 5)  # another system's
    f.boost(xp, 7, attribute_filters={"tier": "gold"})  # another audience
    f.boost(xp, 1.5, attribute_filters={"tier": "free"})  # this player's audience
    u = f.player(attributes={"tier": "free"})
    assert svc.award(u, xp, 10, "time_interval", now=NOW)["added"] == 30
    [row] = db.session.execute(db.select(PointsAward)).scalars().all()
    assert (row.base_amount, row.boost_multiplier, row.amount) == (10, 3.0, 30)


def test_the_daily_cap_outside_events_counts_only_todays_capped_gains_of_the_player_in_the_system(db):
    xp, gems = f.system("xp", daily_cap=25), f.system("gems")
    u, other = f.player("u"), f.player("other")
    for user, system, amount, type_, at in [
        (u, xp, 15, "metric", NOW),
        (u, xp, 1, "streak", NOW),  # 16 earned today
        (u, xp, 100, "admin", NOW),  # not a capped type
        (u, xp, -5, "metric", NOW),  # a penalty is not a gain
        (u, xp, 30, "metric", NOW - timedelta(days=1)),  # yesterday
        (u, gems, 20, "metric", NOW),  # another system
        (other, xp, 20, "metric", NOW),  # another player
    ]:
        svc.award(user, system, amount, type_, now=at, limits=False)
    assert svc.award(u, xp, 20, "time_interval", now=NOW)["added"] == 25 - 16


def test_interval_triggers_award_each_due_player_of_their_audience_once_per_interval(db):
    xp = f.system("xp")
    f.trigger(xp, "time_interval", 50)  # no interval: never scheduled
    t = f.trigger(xp, "time_interval", 3, interval_hours=24, attribute_filters={"tier": "gold"})
    recent = f.player("recent", attributes={"tier": "gold"})
    due = f.player("due", attributes={"tier": "gold"})
    also_due = f.player("also", attributes={"tier": "gold"})
    latest = f.player("latest", attributes={"tier": "gold"})
    f.player("free", attributes={"tier": "free"})
    svc.award(recent, xp, 3, "time_interval", trigger_id=t.id, now=NOW - timedelta(hours=23))
    svc.award(latest, xp, 3, "time_interval", trigger_id=t.id, now=NOW - timedelta(hours=22))

    assert svc.run_time_interval_triggers(NOW) == 2
    rows = db.session.execute(
        db.select(PointsAward).where(PointsAward.awarded_at == NOW).order_by(PointsAward.user_id)
    ).scalars()
    assert [(r.user_id, r.amount, r.trigger_type, r.trigger_id, r.reason) for r in rows] == [
        (due.id, 3, "time_interval", t.id, "scheduled"),
        (also_due.id, 3, "time_interval", t.id, "scheduled"),
    ]


def test_local_midnight_triggers_award_from_the_first_midnight_at_or_after_their_creation(db):
    gems = f.system("gems")
    assert svc.run_local_midnight_triggers(NOW) == 0  # no trigger
    t = f.trigger(gems, "local_midnight", 10, attribute_filters={"tier": "gold"})
    t_row = db.session.get(PointsTrigger, t.id)
    t_row.created_at = f.utc(2030, 1, 1)  # exactly midnight in UTC
    db.session.flush()
    # Tokyo's 1 January began at 15:00 UTC the day before, before the trigger existed; UTC's began with it.
    tokyo = f.player("tokyo", tz="Asia/Tokyo", attributes={"tier": "gold"})
    utc = f.player("utc", attributes={"tier": "gold"})
    f.player("free", attributes={"tier": "free"})
    at = f.utc(2030, 1, 1, 0, 5)

    assert svc.run_local_midnight_triggers(at) == 1
    [row] = db.session.execute(db.select(PointsAward)).scalars().all()
    assert (row.user_id, row.amount, row.trigger_type, row.reason) == (utc.id, 10, "local_midnight", "local midnight")
    assert (row.awarded_at, row.local_date) == (at, at.date())
    assert tokyo.id != row.user_id


def test_an_admin_correction_bypasses_boosts_and_caps_and_never_makes_a_balance_negative(db):
    gems = f.system("gems", daily_cap=5)
    f.boost(gems, 2)
    u = f.player()
    system, res = svc.admin_adjust(u, gems.id, 10, "welcome back")
    assert system.key == "gems" and (res["added"], res["total"]) == (10, 10)
    assert svc.admin_adjust(u, gems.id, -10, "all of it")[1]["total"] == 0  # down to 0 exactly: allowed
    with pytest.raises(svc.PointsError) as ei:
        svc.admin_adjust(u, gems.id, -1, "one more")
    assert str(ei.value) == "The balance is 0; removing 1 would make it negative."
    assert [(a[1], a[2], a[3], a[5]) for a in awards(db, u.id)] == [
        (10, 10, "admin", "welcome back"),
        (-10, -10, "admin", "all of it"),
    ]


def test_a_changed_ladder_puts_every_balance_of_the_system_on_its_level(db):
    xp = f.system("xp", levels=[("bronze", "Bronze", 0), ("silver", "Silver", 50)])
    gems = f.system("gems", levels=[("shiny", "Shiny", 0)])
    low, high, none = f.player("low"), f.player("high"), f.player("none")
    svc.award(low, xp, 30, "admin")
    svc.award(high, xp, 60, "admin")
    svc.award(none, gems, 5, "admin")
    gold = PointsLevel(system_id=xp.id, key="gold", name="Gold", threshold=55)
    db.session.add(gold)
    bronze = db.session.execute(db.select(PointsLevel).where(PointsLevel.key == "bronze")).scalar_one()
    bronze.threshold = 40  # 30 is below the ladder now

    assert svc.recompute_levels(xp) == 2
    levels = {(b.user_id, b.system_id): b.level_id for b in db.session.execute(db.select(PointsBalance)).scalars()}
    shiny = db.session.execute(db.select(PointsLevel.id).where(PointsLevel.key == "shiny")).scalar()
    assert levels == {(low.id, xp.id): None, (high.id, xp.id): gold.id, (none.id, gems.id): shiny}


def test_systems_by_creation_and_by_name(db):
    f.system("zeta", name="Zeta")
    f.system("alpha", name="Alpha")
    assert [s.key for s in svc.all_systems()] == ["zeta", "alpha"]
    assert [s.key for s in svc.systems_by_name()] == ["alpha", "zeta"]


def test_the_awards_page_is_the_players_awards_in_the_system_newest_first(db):
    xp, gems = f.system("xp"), f.system("gems")
    u, other = f.player("u"), f.player("other")
    svc.award(u, xp, 2, "admin", now=NOW + timedelta(hours=1))
    svc.award(u, xp, 1, "admin", now=NOW)  # recorded later, happened earlier
    svc.award(u, xp, 3, "admin", now=NOW + timedelta(hours=1))  # same time: the later row first
    svc.award(u, gems, 4, "admin", now=NOW + timedelta(hours=2))
    svc.award(other, xp, 5, "admin", now=NOW + timedelta(hours=2))
    first = svc.awards_page(u.id, xp.id, 1, 2)
    assert [a.amount for a in first.items] == [3, 2] and first.total == 3
    assert [a.amount for a in svc.awards_page(u.id, xp.id, 2, 2).items] == [1]
    assert svc.awards_page(u.id, xp.id, 3, 2).items == []  # past the end: empty, not an error


def test_the_daily_cap_outside_events_with_nothing_earned_yet(db):
    xp = f.system("xp", daily_cap=25)
    u = f.player()
    assert svc.award(u, xp, 30, "time_interval", now=NOW)["added"] == 25


def test_a_summary_names_the_level_the_next_one_and_the_progress_between(db):
    xp = f.system("xp", badge="X", levels=[("bronze", "Bronze", 0), ("silver", "Silver", 30), ("gold", "Gold", 60)])
    late = f.system("late", levels=[("first", "First", 50)])
    plain = f.system("plain")
    u = f.player()
    svc.award(u, xp, 10, "admin")
    svc.award(u, late, 30, "admin")
    assert svc.summary(u, xp) == {
        "system": "xp",
        "name": "XP",
        "badge": "X",
        "total": 10,
        "level": {"key": "bronze", "name": "Bronze", "badge": "", "threshold": 0},
        "next_level": {"key": "silver", "name": "Silver", "threshold": 30},
        "progress_pct": 33.3,  # 10 of the 30 from bronze to silver
    }
    # below the first level: the progress counts from 0
    assert (svc.summary(u, late)["level"], svc.summary(u, late)["progress_pct"]) == (None, 60.0)
    svc.award(u, xp, 50, "admin")  # 60: exactly gold, the top
    top = svc.summary(u, xp)
    assert (top["level"]["key"], top["next_level"], top["progress_pct"]) == ("gold", None, 100.0)
    svc.award(u, xp, -30, "admin")  # 30: exactly silver; gold is next
    mid = svc.summary(u, xp)
    assert (mid["level"]["key"], mid["next_level"]["key"], mid["progress_pct"]) == ("silver", "gold", 0.0)
    assert svc.summary(u, plain)["progress_pct"] == 100.0 and svc.summary(u, plain)["level"] is None


# ------------------------------------------------------------------------------------------ in events


def test_the_daily_cap_in_events_counts_the_players_local_day_east_and_west_of_utc(db):
    """The batch loads the capped earnings of the local days it can touch: a day either side of UTC's."""
    lessons = f.metric("lessons")
    xp = f.system("xp", daily_cap=25)
    f.trigger(xp, "metric", 10, metric_id=lessons.id)
    tokyo, la = f.player("tokyo", tz="Asia/Tokyo"), f.player("la", tz="America/Los_Angeles")
    # Tokyo: 16:00 and 20:00 UTC on 1 June are 01:00 and 05:00 on 2 June there.
    assert process_event("lessons", tokyo, 2, now=f.utc(2030, 6, 1, 16))["points"]["xp"]["added"] == 20
    assert process_event("lessons", tokyo, 1, now=f.utc(2030, 6, 1, 20))["points"]["xp"]["added"] == 5
    # Los Angeles: 03:00 and 06:00 UTC on 2 June are 20:00 and 23:00 on 1 June there.
    assert process_event("lessons", la, 2, now=f.utc(2030, 6, 2, 3))["points"]["xp"]["added"] == 20
    assert process_event("lessons", la, 1, now=f.utc(2030, 6, 2, 6))["points"]["xp"]["added"] == 5


def test_the_daily_cap_in_events_counts_only_capped_gains_and_grows_within_a_batch(db):
    lessons = f.metric("lessons")
    xp = f.system("xp", daily_cap=25)
    f.trigger(xp, "metric", 10, metric_id=lessons.id)
    u = f.player()
    for amount, type_ in [(100, "admin"), (-5, "metric"), (1, "streak")]:  # only the 1 counts
        svc.award(u, xp, amount, type_, now=NOW, limits=False)
    db.session.commit()
    results = process_batch([EventIn("lessons", u, 1, now=NOW + timedelta(minutes=m)) for m in range(3)])
    assert [r.response["points"]["xp"]["added"] for r in results] == [10, 10, 4]  # 24 left, then 14, then 4


def test_boosts_in_events_apply_from_their_start_until_just_before_their_end(db):
    lessons = f.metric("lessons")
    xp = f.system("xp")
    f.trigger(xp, "metric", 10, metric_id=lessons.id)
    f.boost(xp, 2, starts=NOW, ends=NOW + timedelta(hours=1))
    f.boost(xp, 3, starts=NOW - timedelta(hours=1), ends=NOW)
    f.boost(f.system("gems"), 5)
    f.boost(xp, 7, attribute_filters={"tier": "gold"})
    u = f.player(attributes={"tier": "free"})
    r = process_event("lessons", u, 1, now=NOW)
    assert r["points"]["xp"] == {"added": 20, "total": 20}
    [row] = db.session.execute(db.select(PointsAward)).scalars().all()
    assert (row.base_amount, row.boost_multiplier, row.amount) == (10, 2.0, 20)


def test_levels_in_events_notify_on_the_way_up_only_and_name_both_levels(db):
    lessons, minus = f.metric("lessons"), f.metric("mistakes", "Mistakes", "mistakes")
    xp = f.system("xp", name="XP", levels=[("bronze", "Bronze", 0), ("silver", "Silver", 20)])
    f.trigger(xp, "metric", 10, metric_id=lessons.id)
    f.trigger(xp, "metric", -15, metric_id=minus.id)
    u = f.player()
    got = [
        process_event("lessons", u, 1, now=NOW)["points"]["xp"],  # 10: bronze
        process_event("lessons", u, 1, now=NOW)["points"]["xp"],  # 20: silver
        process_event("mistakes", u, 1, now=NOW)["points"]["xp"],  # 5: back to bronze
    ]
    bronze = {"key": "bronze", "name": "Bronze", "threshold": 0, "badge": ""}
    silver = {"key": "silver", "name": "Silver", "threshold": 20, "badge": ""}
    assert got == [
        {"added": 10, "total": 10, "level": bronze},
        {"added": 10, "total": 20, "level": silver},
        {"added": -15, "total": 5, "level": bronze},
    ]
    notes = db.session.execute(
        db.select(Notification).where(Notification.type == "level_up").order_by(Notification.id)
    ).scalars()
    assert [(n.title, n.link) for n in notes] == [
        ("XP: you reached Bronze!", "/points"),
        ("XP: you reached Silver!", "/points"),
    ]
    changes = db.session.execute(
        db.select(DomainEvent).where(DomainEvent.type == "points.level_changed").order_by(DomainEvent.id)
    ).scalars()
    assert [(c.payload["previous_level"], c.payload["new_level"]) for c in changes] == [
        (None, bronze),
        (bronze, silver),
        (silver, bronze),
    ]
    balance = db.session.get(PointsBalance, (u.id, xp.id))
    bronze_id = db.session.execute(db.select(PointsLevel.id).where(PointsLevel.key == "bronze")).scalar()
    assert (balance.balance, balance.level_id) == (5, bronze_id)


def test_points_changed_events_carry_each_award_with_its_source(db):
    lessons = f.metric("lessons")
    xp = f.system("xp")
    f.trigger(xp, "metric", 10, metric_id=lessons.id)
    u = f.player()
    r = process_event("lessons", u, 1, now=NOW)
    [e] = db.session.execute(db.select(DomainEvent).where(DomainEvent.type == "points.changed")).scalars().all()
    assert (e.user_id, e.payload, e.source_event_id, e.created_at) == (
        u.id,
        {"system": "xp", "added": 10, "total": 10},
        r["event_id"],
        NOW,
    )


def test_a_repeated_key_answers_every_systems_balance_without_awarding(db):
    lessons = f.metric("lessons")
    xp = f.system("xp")
    f.system("gems")  # nothing ever awarded there
    f.trigger(xp, "metric", 10, metric_id=lessons.id)
    u = f.player()
    process_event("lessons", u, 1, idempotency_key="k", now=NOW)
    again = process_event("lessons", u, 1, idempotency_key="k", now=NOW)
    assert again["points"] == {"xp": {"added": 0, "total": 10}, "gems": {"added": 0, "total": 0}}
