"""Streak pauses (issue 16 item 3) over /api/v1 and through the paths that settle a streak: the event
pipeline, a read, the scheduled job, the reminder producer. A UTC player with a daily streak, lessons on
1-3 March 2026 (length 3) unless said otherwise; expected values worked out by hand from the rule (a
paused period neither extends nor breaks the streak and uses no freeze)."""

from datetime import date

import pytest
import time_machine

from gamify import jobs
from gamify.models import EmailSend, FreezeLedger, StreakPause, StreakPeriod, User
from gamify.services import reminders, streak_pauses
from gamify.services.users import identify
from tests import factories as f
from tests.apispec import Spec

PAUSES = "/api/v1/users/{external_id}/streak/pauses"
PAUSE = "/api/v1/users/{external_id}/streak/pauses/{pause_id}"


@pytest.fixture
def headers(db):
    m = f.metric("lessons")
    f.streak({m: 1}, freeze_max=3)
    db.session.commit()
    return {"X-API-Key": f.api_key()}


def _at(day: int, hour: int = 9):
    return time_machine.travel(f.utc(2026, 3, day, hour), tick=False)


def _lesson(client, headers, day: int, user="u1") -> dict:
    with _at(day):
        r = client.post("/api/v1/metrics/lessons/event", json={"user_id": user}, headers=headers)
        assert r.status_code == 201, r.json
        return r.json["streak"]


def _pause(client, headers, day: int, body: dict, user="u1"):
    with _at(day):
        return client.post(f"/api/v1/users/{user}/streak/pauses", json=body, headers=headers)


def _streak(client, headers, day: int, user="u1", hour: int = 9) -> dict:
    with _at(day, hour):
        r = client.get(f"/api/v1/users/{user}/streak?history=10", headers=headers)
        assert r.status_code == 200
        return r.json


def _three_days(client, headers, user="u1"):
    for day in (1, 2, 3):
        _lesson(client, headers, day, user)


def _periods(db) -> list[tuple]:
    rows = db.session.execute(db.select(StreakPeriod).order_by(StreakPeriod.period_start)).scalars()
    return [(p.period_start.day, p.outcome, p.length) for p in rows]


# ------------------------------------------------------------------------------------------ the rule


def test_a_pause_carries_the_streak_over_missed_days_without_a_freeze(client, headers, db):
    spec = Spec(client)
    _three_days(client, headers)
    with _at(3):
        assert (
            client.post("/api/v1/users/u1/streak/freezes", json={"reason": "gift"}, headers=headers).status_code == 201
        )
    r = _pause(client, headers, 4, {"start": "2026-03-04", "end": "2026-03-06", "reason": "holiday"})
    body = spec.check(r, PAUSES, "post")
    assert r.status_code == 201
    assert body["pause"] | {"id": "x"} == {
        "id": "x",
        "start": "2026-03-04",
        "end": "2026-03-06",
        "reason": "holiday",
        "status": "active",
        "created_at": "2026-03-04T09:00:00+00:00",
    }
    # Paused today: not at risk; the 7th is the first day needing a lesson, so it is lost at 8 March 00:00.
    assert (body["streak"]["length"], body["streak"]["at_risk"], body["streak"]["paused"]) == (3, False, True)
    assert body["streak"]["expires_utc"] == "2026-03-08T00:00:00+00:00"
    # Nothing from the 4th to the 6th; the lesson of the 7th settles them (the event path) and extends.
    st = _lesson(client, headers, 7)
    assert (st["length"], st["extended"], st["frozen"], st["freezes"]) == (4, True, False, 1)
    assert _periods(db) == [
        (1, "extended", 1),
        (2, "extended", 2),
        (3, "extended", 3),
        (4, "paused", 3),
        (5, "paused", 3),
        (6, "paused", 3),
        (7, "extended", 4),
    ]
    assert db.session.execute(db.select(FreezeLedger.kind)).scalars().all() == ["granted"]  # none consumed
    history = _streak(client, headers, 7)["history"]
    assert [(h["period_start"][-2:], h["outcome"], h["paused"]) for h in history][3:6] == [
        ("04", "paused", True),
        ("05", "paused", True),
        ("06", "paused", True),
    ]
    assert not history[-1]["paused"] and not history[0]["paused"]


def test_a_lesson_on_a_paused_day_extends_nothing(client, headers):
    _three_days(client, headers)
    assert _pause(client, headers, 4, {"start": "2026-03-04", "end": "2026-03-04"}).status_code == 201
    st = _lesson(client, headers, 4)
    assert (st["length"], st["extended"], st["paused"]) == (3, False, True)
    st = _lesson(client, headers, 5)  # the day after the pause: 4
    assert (st["length"], st["extended"], st["paused"]) == (4, True, False)


def test_the_day_after_the_pause_still_breaks_when_missed_read_and_job(client, headers, db):
    _three_days(client, headers)
    _three_days(client, headers, "u2")
    for user in ("u1", "u2"):
        assert _pause(client, headers, 4, {"start": "2026-03-04", "end": "2026-03-05"}, user).status_code == 201
    # u1 read on the 7th: 4th and 5th paused, the 6th missed (no freeze held): lost.
    st = _streak(client, headers, 7)
    assert (st["length"], st["longest"]) == (0, 3)
    assert [(h["period_start"][-2:], h["outcome"]) for h in st["history"]][3:] == [
        ("04", "paused"),
        ("05", "paused"),
        ("06", "broken"),
    ]
    # u2 settled by the scheduled job on the 6th at noon: the paused days close, nothing is lost yet.
    with _at(6, 12):
        jobs.settle_streaks()
    u2 = identify("u2")[0].id
    rows = db.session.execute(
        db.select(StreakPeriod).where(StreakPeriod.user_id == u2, StreakPeriod.outcome != "extended")
    )
    assert [(p.period_start, p.outcome, p.length) for p in rows.scalars()] == [
        (date(2026, 3, 4), "paused", 3),
        (date(2026, 3, 5), "paused", 3),
    ]
    assert _streak(client, headers, 6, "u2")["length"] == 3


def test_no_streak_reminder_on_a_paused_day(client, headers, db):
    for user in ("paused", "busy"):
        with _at(1):
            client.post(f"/api/v1/users/{user}", json={"email": f"{user}@example.com"}, headers=headers)
        _three_days(client, headers, user)
    assert _pause(client, headers, 4, {"start": "2026-03-04", "end": "2026-03-04"}, "paused").status_code == 201
    db.session.commit()
    with _at(4, 21):  # past the 20:00 reminder hour on the last day of the period
        ids = reminders.select_streak_reminders()
    emails = db.session.execute(
        db.select(User.email).join(EmailSend, EmailSend.user_id == User.id).where(EmailSend.id.in_(ids))
    ).scalars()
    assert set(emails) == {"busy@example.com"}


# ------------------------------------------------------------------------------------------ delete


def test_deleting_a_pause_keeps_the_covered_days_and_ends_it_from_today(client, headers, db):
    spec = Spec(client)
    _three_days(client, headers)
    pid = _pause(client, headers, 4, {"start": "2026-03-04", "end": "2026-03-10"}).json["pause"]["id"]
    with _at(6):
        r = client.delete(f"/api/v1/users/u1/streak/pauses/{pid}", headers=headers)
    body = spec.check(r, PAUSE, "delete")
    assert r.status_code == 200 and body["deleted"] == pid
    # The 4th and 5th closed as paused when it was deleted; the 6th needs a lesson again.
    assert (body["streak"]["length"], body["streak"]["at_risk"], body["streak"]["paused"]) == (3, True, False)
    assert body["streak"]["expires_utc"] == "2026-03-07T00:00:00+00:00"
    assert _periods(db)[3:] == [(4, "paused", 3), (5, "paused", 3)]
    assert streak_pauses.get(pid) is None
    assert _lesson(client, headers, 6)["length"] == 4


def test_another_players_pause_is_refused(client, headers, db):
    _three_days(client, headers)
    _lesson(client, headers, 3, "u2")
    pid = _pause(client, headers, 4, {"start": "2026-03-04", "end": "2026-03-05"}).json["pause"]["id"]
    with _at(4):
        r = client.delete(f"/api/v1/users/u2/streak/pauses/{pid}", headers=headers)
        assert r.status_code == 404 and r.json["error"]["field"] == "pause_id"
        for other in ("999999", "5f0e1b52-7f5e-4c43-9d3f-0d5e0c2c9a10"):
            assert client.delete(f"/api/v1/users/u1/streak/pauses/{other}", headers=headers).status_code == 404
    assert streak_pauses.get(pid) is not None
    # u2's streak is not paused by u1's pause: u2 misses the 4th and loses it.
    assert _streak(client, headers, 5, "u2")["length"] == 0
    assert _streak(client, headers, 5)["length"] == 3


# ------------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"start": "2026-03-03", "end": "2026-03-05"}, 400, "start"),  # before the player's today (the 4th)
        ({"start": "2026-03-06", "end": "2026-03-05"}, 400, "end"),  # ends before it starts
        ({"start": "2026-03-04", "end": "2027-03-05"}, 400, "end"),  # 367 days
        ({"start": "2027-03-06", "end": "2027-03-07"}, 400, "start"),  # more than a year ahead
        ({"start": "4 March", "end": "2026-03-05"}, 400, "start"),
        ({"start": 20260304, "end": "2026-03-05"}, 400, "start"),
        ({"end": "2026-03-05"}, 400, "start"),
        ({"start": "2026-03-04"}, 400, "end"),
        ({"start": "2026-03-04", "end": "2026-03-05", "reason": "x" * 121}, 400, "reason"),
        ({"start": "2026-03-08", "end": "2026-03-09"}, 409, "start"),  # overlaps 9-12 March
    ],
)
def test_bad_pauses_are_refused_naming_the_field(client, headers, db, body, status, field):
    _three_days(client, headers)
    assert _pause(client, headers, 4, {"start": "2026-03-09", "end": "2026-03-12"}).status_code == 201
    r = _pause(client, headers, 4, body)
    assert (r.status_code, r.json["error"]["field"]) == (status, field), r.json
    assert db.session.execute(db.select(db.func.count()).select_from(StreakPause)).scalar() == 1


def test_unknown_player_and_the_player_zone_decides_today(client, headers, db):
    r = _pause(client, headers, 4, {"start": "2026-03-04", "end": "2026-03-04"}, "nobody")
    assert (r.status_code, r.json["error"]["field"]) == (404, "user_id")
    with _at(1):
        client.post("/api/v1/users/tokyo", json={"tz": "Asia/Tokyo"}, headers=headers)
    # 4 March 20:00 UTC is already the 5th in Tokyo: the 4th is in the past there.
    with _at(4, 20):
        r = client.post(
            "/api/v1/users/tokyo/streak/pauses", json={"start": "2026-03-04", "end": "2026-03-05"}, headers=headers
        )
        assert (r.status_code, r.json["error"]["field"]) == (400, "start")
        assert "2026-03-05" in r.json["error"]["message"]


def test_at_most_twenty_open_pauses_per_player(client, headers, db):
    _three_days(client, headers)
    with _at(4):
        user = identify("u1")[0]
        for i in range(streak_pauses.MAX_OPEN):
            start = date(2026, 3, 10 + i)
            streak_pauses.create(user, start, start)
        db.session.commit()
    r = _pause(client, headers, 4, {"start": "2026-03-05", "end": "2026-03-05"})
    assert (r.status_code, r.json["error"]["field"]) == (409, "start")


# ------------------------------------------------------------------------------------------ many at once


def test_create_many_reports_each_pause_on_its_own(db, headers):
    with _at(4, 11):  # 01:00 on the 5th in Kiritimati (UTC+14)
        ann = identify("ann")[0]
        identify("bob", tz="Pacific/Kiritimati")
        out = streak_pauses.create_many(
            [
                streak_pauses.PauseRequest("ann", date(2026, 3, 5), date(2026, 3, 6)),
                streak_pauses.PauseRequest("nobody", date(2026, 3, 5), date(2026, 3, 6)),
                streak_pauses.PauseRequest("bob", date(2026, 3, 4), date(2026, 3, 4)),  # already the 5th there
                streak_pauses.PauseRequest(ann, date(2026, 3, 6), date(2026, 3, 8)),  # overlaps ann's first
            ],
            created_by="test",
        )
    assert [(o.index, o.user_id, o.pause is not None) for o in out] == [
        (0, "ann", True),
        (1, "nobody", False),
        (2, "bob", False),
        (3, "ann", False),
    ]
    assert [(o.error.status, o.error.field) for o in out[1:]] == [(404, "user_id"), (400, "start"), (409, "start")]
    assert [(p.start_on, p.end_on, p.created_by) for p in streak_pauses.of_user(ann.id)] == [
        (date(2026, 3, 5), date(2026, 3, 6), "test")
    ]
    with _at(7):
        assert streak_pauses.status(out[0].pause, ann) == "archived"
        gone = streak_pauses.delete_many(
            [out[0].pause.public_id.upper(), "5f0e1b52-7f5e-4c43-9d3f-0d5e0c2c9a10", "not-a-uuid"]
        )
    assert [e and (e.status, str(e)) for _i, e in gone] == [
        None,
        (404, "streak pause not found by id"),
        (400, "id must be a valid UUID"),
    ]
    assert streak_pauses.of_user(ann.id) == []


def test_a_null_reason_is_no_reason(client, headers, db):
    # Found by the spec fuzz: the length check measured a null reason (a 500).
    _three_days(client, headers)
    r = _pause(client, headers, 4, {"start": "2026-03-04", "end": "2026-03-05", "reason": None})
    assert r.status_code == 201, r.json
