"""A user's streak, achievements and points, the catalogue of achievements and points systems, through
Trophy's SDK; expected values worked out by hand from the `world` configuration."""

from datetime import datetime, timedelta, timezone

import pytest
from trophy import UpsertedUser
from trophy.errors import NotFoundError, UnprocessableEntityError

from gamify.services.events import process_event
from gamify.services.users import identify
from tests import factories as f
from tests.integration.trophy.conftest import wire


def test_streak_with_history_and_a_freeze(sdk, world, db, conforms):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    user, _ = identify("u-1", tz="UTC")
    for days_ago in (3, 2, 0):  # day -1 missed: the one freeze covers it
        process_event("words", user, 1, now=now - timedelta(days=days_ago))
    db.session.commit()
    raw = sdk.users.with_raw_response.streak("u-1", history_periods=5)
    conforms(wire(raw), "get", "/users/{id}/streak")
    st = raw.data
    day = lambda n: (now - timedelta(days=n)).date().isoformat()  # noqa: E731
    assert (st.length, st.frequency, st.started, st.freezes, st.max_freezes) == (3, "daily", day(3), 0, 2)
    assert (st.period_start, st.period_end, st.expires) == (day(0), day(0), day(-1))
    assert st.extended == now  # when today's event extended it
    assert [(h.period_start, h.length, h.used_freeze, h.used_pause) for h in st.streak_history] == [
        (day(4), 0, False, False),
        (day(3), 1, False, False),
        (day(2), 2, False, False),
        (day(1), 2, True, False),
        (day(0), 3, False, False),
    ]
    assert st.pauses == []
    assert len(sdk.users.streak("u-1").streak_history) == 7  # Trophy's default
    with pytest.raises(UnprocessableEntityError):
        sdk.users.streak("u-1", history_periods=-1)


def test_bulk_streaks_longest_first(sdk, world, db, conforms, http):
    now = datetime.now(timezone.utc)
    for uid, days in (("a", 1), ("b", 3), ("c", 0)):
        user, _ = identify(uid)
        for n in reversed(range(days)):  # oldest first
            process_event("words", user, 1, now=now - timedelta(days=n))
    db.session.commit()
    raw = sdk.streaks.with_raw_response.list(user_ids=["a", "b", "c", "nobody"])
    conforms(wire(raw), "get", "/streaks")
    assert [(i.user_id, i.streak_length) for i in raw.data] == [("b", 3), ("a", 1), ("c", 0)]
    assert raw.data[0].extended is not None and raw.data[2].extended is None
    assert [i["userId"] for i in http("GET", "/streaks", params={"userIds": "a,b"}).json()] == ["b", "a"]
    r = http("GET", "/streaks", params={"userIds": ",".join(f"u{i}" for i in range(101))})
    assert r.status_code == 422


def test_achievements_catalogue_complete_and_the_users(sdk, world, db, conforms, http):
    f.achievement("secret", "api", name="Secret", hidden=True)
    f.achievement("pro-only", "api", name="Pro only", attribute_filters={"plan": "pro"})
    db.session.commit()
    sdk.metrics.event("words", user=UpsertedUser(id="u-1"), value=1)
    sdk.metrics.event("words", user=UpsertedUser(id="u-2"), value=1)
    raw = sdk.achievements.with_raw_response.all_()
    conforms(wire(raw), "get", "/achievements")
    stats = {a.key: (a.trigger, a.completions, a.rarity) for a in raw.data}
    assert "secret" not in stats  # hidden until earned
    assert stats["first-words"] == ("metric", 2, 100.0) and stats["streak-3"] == ("streak", 0, 0.0)
    assert [a.key for a in sdk.achievements.all_(user_attributes="plan:free") if a.key.startswith("pro")] == []

    done = sdk.achievements.with_raw_response.complete("onboarded", user=UpsertedUser(id="u-1"))
    assert done.status_code == 201
    conforms(wire(done), "post", "/achievements/{key}/complete", 201)
    assert (done.data.achievement.key, done.data.achievement.trigger) == ("onboarded", "api")
    assert done.data.achievement.description == "Finished onboarding" and done.data.points == {}
    again = sdk.achievements.with_raw_response.complete("onboarded", user=UpsertedUser(id="u-1"))
    assert again.status_code == 202 and again.data.completion_id == done.data.completion_id
    with pytest.raises(NotFoundError):
        sdk.achievements.complete("nope", user=UpsertedUser(id="u-1"))
    with pytest.raises(UnprocessableEntityError):  # a metric achievement is earned by events only
        sdk.achievements.complete("hundred", user=UpsertedUser(id="u-1"))

    mine = sdk.users.with_raw_response.achievements("u-1")
    conforms(wire(mine), "get", "/users/{id}/achievements")
    assert [a.key for a in mine.data] == ["first-words", "onboarded"]
    everything = sdk.users.achievements("u-1", include_incomplete="true")
    assert [(a.key, a.achieved_at is None) for a in everything][2:] == [
        ("hundred", True),
        ("streak-3", True),
        ("pro-only", True),
    ]


def test_completion_awards_its_points(sdk, world, db):
    f.trigger(world["xp"], "achievement", 7, achievement_id=f.achievement("bonus", "api", name="Bonus").id)
    db.session.commit()
    done = sdk.achievements.complete("bonus", user=UpsertedUser(id="u-9"))
    xp = done.points["xp"]
    assert (xp.added, xp.total) == (14, 14)  # 7, doubled by the boost
    assert [(a.awarded, a.total, a.trigger.achievement_name) for a in xp.awards] == [(14, 14, "Bonus")]


def test_points_of_a_user_and_the_system(sdk, world, db, conforms):
    f.boost(world["xp"], 3, name="Launch week", starts=f.utc(2020, 1, 1), ends=f.utc(2020, 1, 8))
    db.session.commit()
    sdk.metrics.event("words", user=UpsertedUser(id="u-1"), value=3)  # 60 + 10 (first words) = 70
    sdk.metrics.event("words", user=UpsertedUser(id="u-1"), value=1)  # + 20 = 90
    sdk.users.create(id="u-2")  # no points
    raw = sdk.users.with_raw_response.points("u-1", "xp", awards=2)
    conforms(wire(raw), "get", "/users/{id}/points/{key}")
    pts = raw.data
    assert (pts.key, pts.name, pts.total, pts.level.key, pts.max_points) == ("xp", "XP", 90, "silver", None)
    assert [(a.awarded, a.total) for a in pts.awards] == [(20, 90), (10, 70)]
    boosts = sdk.users.with_raw_response.points_boosts("u-1", "xp")
    conforms(wire(boosts), "get", "/users/{id}/points/{key}/boosts")
    assert [(b.name, b.multiplier, b.status, b.rounding) for b in boosts.data] == [("Double XP", 2, "active", "down")]

    system = sdk.points.with_raw_response.system("xp")
    conforms(wire(system), "get", "/points/{key}")
    assert [(t.type, t.points) for t in system.data.triggers] == [("metric", 10), ("achievement", 5)]
    assert system.data.triggers[0].metric_threshold == 1
    levels = sdk.points.with_raw_response.levels("xp")
    conforms(wire(levels), "get", "/points/{key}/levels")
    assert [(lv.key, lv.points) for lv in levels.data] == [("bronze", 10), ("silver", 50)]
    summary = sdk.points.with_raw_response.level_summary("xp")
    conforms(wire(summary), "get", "/points/{key}/level-summary")
    assert [(i.level.key, i.users) for i in summary.data] == [("bronze", 0), ("silver", 1)]
    ranges = sdk.points.with_raw_response.summary("xp")
    conforms(wire(ranges), "get", "/points/{key}/summary")
    # 90 points at most -> ranges of 10 up to 100: u-1 in 81-90, u-2 (no points) in 0-0
    assert [(r.from_, r.to, r.users) for r in ranges.data if r.users] == [(0, 0, 1), (81, 90, 1)]
    assert len(ranges.data) == 11 and ranges.data[-1].to == 100
    assert sum(r.users for r in sdk.points.summary("xp", user_attributes="plan:pro")) == 0
    all_boosts = sdk.points.with_raw_response.boosts("xp", include_finished=True)
    conforms(wire(all_boosts), "get", "/points/{key}/boosts")
    assert [(b.name, b.status, b.start, b.end) for b in all_boosts.data] == [
        ("Double XP", "active", "2000-01-01", "2099-12-31"),
        ("Launch week", "finished", "2020-01-01", "2020-01-07"),
    ]
    assert [b.name for b in sdk.points.boosts("xp")] == ["Double XP"]
    for call in (lambda: sdk.points.system("nope"), lambda: sdk.users.points("u-1", "nope")):
        with pytest.raises(NotFoundError):
            call()
