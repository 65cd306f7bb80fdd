"""Trophy's admin API, leaderboards and streak operations (freezes, restores), through the SDK's admin
client over real HTTP."""

from datetime import datetime, time, timedelta

import pytest
from trophy import CreateLeaderboardRequestItem, UpdateLeaderboardRequestItem

from gamify.extensions import db as _db
from gamify.models import FreezeLedger, Leaderboard, User, UserStreak
from gamify.models._common import utcnow
from tests import factories as f

from .conftest import wire


@pytest.fixture
def ids(db):
    """A metric with a daily streak (freezes up to 2) and a points system; their ids, read before the
    commit (SQLite: a read afterwards would hold the database while the live server waits)."""
    words = f.metric("words", name="Words")
    f.streak({words: 1}, freeze_max=2)
    xp = f.system("xp")
    out = {"words": str(words.id), "xp": str(xp.id)}
    db.session.commit()
    return out


def test_leaderboards_created_updated_listed_and_deleted(sdk, admin_conforms, ids):
    raw = sdk.admin.leaderboards.with_raw_response.create(
        request=[
            CreateLeaderboardRequestItem(
                name="Weekly words",
                key="weekly-words",
                rank_by="metric",
                metric_id=ids["words"],
                status="active",
                run_unit="day",
                run_interval=7,
                max_participants=50,
                breakdown_attributes=["city"],
            ),
            CreateLeaderboardRequestItem(name="XP", key="xp-all", rank_by="points", points_system_id=ids["xp"]),
            CreateLeaderboardRequestItem(
                name="Yearly", key="yearly", rank_by="streak", run_unit="year", run_interval=1
            ),
            CreateLeaderboardRequestItem(name="Ends", key="ends", rank_by="streak", end="2030-01-01"),
            CreateLeaderboardRequestItem(name="No metric", key="no-metric", rank_by="metric"),
            CreateLeaderboardRequestItem(name="Again", key="xp-all", rank_by="streak"),
        ]
    )
    assert raw._response.status_code == 201
    body = admin_conforms(wire(raw), "post", "/leaderboards", 201)
    weekly, xp = raw.data.created
    assert (weekly.status, weekly.run_unit, weekly.run_interval, weekly.max_participants) == ("active", "day", 7, 50)
    assert weekly.metric_id == ids["words"] and weekly.breakdown_attributes == ["city"]
    assert (xp.status, xp.run_unit, xp.points_system_id, xp.max_participants) == ("inactive", None, ids["xp"], 1000)
    assert weekly.start == utcnow().date().isoformat()
    assert [(i["index"], i["message"]) for i in body["issues"]] == [
        (2, "gamify leaderboards repeat daily (day, 1), weekly (day, 7) or monthly (month, 1)"),
        (3, "gamify leaderboards have no end: they run until switched off, all day"),
        (4, "choose the metric to rank by"),
        (5, "a leaderboard with key 'xp-all' already exists"),
    ]
    stored = _db.session.execute(_db.select(Leaderboard).where(Leaderboard.key == "weekly-words")).scalar_one()
    assert (stored.frequency, stored.active, stored.participant_limit) == ("weekly", True, 50)
    _db.session.rollback()

    # The board ranks events at once (the application API reads it).
    sdk.metrics.event("words", user={"id": "ann", "attributes": {"city": "paris"}}, value=30)
    sdk.metrics.event("words", user={"id": "bob"}, value=50)
    ranked = sdk.leaderboards.get("weekly-words")
    assert [(r.user_id, r.rank, r.value) for r in ranked.rankings] == [("bob", 1, 50), ("ann", 2, 30)]

    up = sdk.admin.leaderboards.update(
        request=[
            UpdateLeaderboardRequestItem(id=weekly.id, name="Words this week", status="finished"),
            UpdateLeaderboardRequestItem(id=xp.id, key="renamed"),
            UpdateLeaderboardRequestItem(id="999", name="x"),
        ]
    )
    assert [(b.name, b.status, b.run_interval) for b in up.updated] == [("Words this week", "inactive", 7)]
    assert [i.message for i in up.issues] == [
        "a gamify leaderboard's key never changes (the host app and its URLs use it)",
        "leaderboard '999' not found",
    ]
    assert [b.key for b in sdk.admin.leaderboards.list()] == ["weekly-words", "xp-all"]
    assert sdk.admin.leaderboards.get(xp.id).rank_by == "points"
    gone = sdk.admin.leaderboards.delete(ids=[xp.id, "999"])
    assert [d.id for d in gone.deleted] == [xp.id] and gone.issues[0].id == "999"
    assert [b.key for b in sdk.admin.leaderboards.list()] == ["weekly-words"]


def test_freezes_are_granted_up_to_the_maximum(sdk, admin_conforms, admin_http, ids):
    sdk.metrics.event("words", user={"id": "ann"}, value=1)
    first = admin_http("POST", "/streaks/freezes", json={"freezes": [{"userId": "ann"}, {"userId": "ann"}]})
    assert first.status_code == 201 and first.json() == {"issues": []}
    admin_conforms(first.json(), "post", "/streaks/freezes", 201)
    again = sdk.admin.streaks.freezes.with_raw_response.create(freezes=[{"user_id": "ann"}, {"user_id": "nobody"}])
    assert again._response.status_code == 200  # none created
    assert [(i.index, i.user_id, i.message) for i in again.data.issues] == [
        (0, "ann", "the user already holds the maximum of 2 freezes"),
        (1, "nobody", "user 'nobody' not found"),
    ]
    assert sdk.users.streak("ann").freezes == 2
    assert _db.session.query(FreezeLedger).filter_by(kind="granted").count() == 2
    _db.session.rollback()
    assert admin_http("POST", "/streaks/freezes", json={"freezes": []}).status_code == 422
    assert admin_http("POST", "/streaks/freezes", json=[{"userId": "ann"}]).status_code == 400


def test_a_lost_streak_is_restored_at_the_length_it_had(sdk, admin_conforms, admin_http, ids):
    # Imported history: five and four days ago (a streak of 2), then nothing: the streak is lost.
    day = utcnow().date()
    for ago in (5, 4):
        when = datetime.combine(day - timedelta(days=ago), time(12)).isoformat() + "Z"
        admin_http(
            "POST", "/metrics/events", json=[{"key": "words", "user": {"id": "ann"}, "value": 1, "occurredAt": when}]
        )
    assert sdk.users.streak("ann").length == 0
    raw = sdk.admin.streaks.with_raw_response.restore(users=[{"id": "ann"}, {"id": "nobody"}])
    assert raw._response.status_code == 201
    admin_conforms(wire(raw), "post", "/streaks/restore", 201)
    assert raw.data.restored_users == ["ann"] and raw.data.issues[0].user_id == "nobody"
    assert sdk.users.streak("ann").length == 2  # the length it had when it broke
    twice = sdk.admin.streaks.restore(users=[{"id": "ann"}])
    assert twice.restored_users == [] and "only a lost streak can be restored" in twice.issues[0].message
    row = _db.session.execute(
        _db.select(UserStreak).join(User, User.id == UserStreak.user_id).where(User.external_id == "ann")
    )
    assert row.scalar_one().length == 2
    _db.session.rollback()


def test_pauses_set_and_deleted(sdk, admin_conforms, admin_http, ids):
    sdk.metrics.event("words", user={"id": "ann", "tz": "UTC"}, value=1)
    today = utcnow().date()
    day = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
    raw = sdk.admin.streaks.pauses.with_raw_response.create(
        pauses=[
            {"user_id": "ann", "start": day(2), "end": day(4)},
            {"user_id": "ann", "start": day(-1), "end": day(1)},  # starts in the past
            {"user_id": "ann", "start": day(3), "end": day(5)},  # overlaps the first
            {"user_id": "nobody", "start": day(2), "end": day(3)},
        ]
    )
    assert raw._response.status_code == 201
    admin_conforms(wire(raw), "post", "/streaks/pauses", 201)
    (made,) = raw.data.created
    assert (made.user_id, made.start, made.end, made.status) == ("ann", day(2), day(4), "active")
    assert [(i.index, i.user_id) for i in raw.data.issues] == [(1, "ann"), (2, "ann"), (3, "nobody")]
    assert "start must not be before" in raw.data.issues[0].message and "overlaps" in raw.data.issues[1].message
    assert [(p.id, p.start, p.end) for p in sdk.users.streak("ann").pauses] == [(made.id, day(2), day(4))]

    gone = sdk.admin.streaks.pauses.delete(ids=[made.id, "not-a-uuid"])
    assert [d.id for d in gone.deleted] == [made.id] and gone.issues[0].id == "not-a-uuid"
    assert sdk.users.streak("ann").pauses == []
    assert admin_http("POST", "/streaks/pauses", json={"pauses": []}).status_code == 422


def test_streak_operations_without_a_streak(admin_http, db):
    assert admin_http("POST", "/streaks/freezes", json={"freezes": [{"userId": "a"}]}).json() == {
        "error": "no streak is configured"
    }
    assert admin_http("POST", "/streaks/restore", json={"users": [{"id": "a"}]}).status_code == 422
