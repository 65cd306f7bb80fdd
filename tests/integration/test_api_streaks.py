"""Streak administration over the JSON API (issue 15): freeze grants up to the configured maximum, and
restoring a lost streak to the length it had (ledgered, with the reason; streak boards follow). Responses
are checked against the generated OpenAPI document."""

from datetime import date

import pytest
import time_machine

from gamify.models import FreezeLedger, StreakConfig, StreakRestoration, UserStreak
from gamify.services import leaderboards as boards
from gamify.services import snapshot
from tests import factories as f
from tests.apispec import Spec

FREEZES = "/api/v1/users/{external_id}/streak/freezes"
RESTORE = "/api/v1/users/{external_id}/streak/restore"


@pytest.fixture
def headers(db, client):
    m = f.metric("lessons")
    f.streak({m: 1}, freeze_max=3)
    db.session.commit()
    boards.create(
        {
            "key": "streaks",
            "name": "Streaks",
            "ranked_by": "streak",
            "metric_id": None,
            "system_id": None,
            "frequency": "perpetual",
            "start_date": None,
            "participant_limit": 10,
            "breakdown": [],
        }
    )
    db.session.commit()
    return {"X-API-Key": f.api_key()}


def _at(day: int, hour: int = 9):
    return time_machine.travel(f.utc(2026, 3, day, hour), tick=False)


def _lesson(client, headers, day: int, user="u1") -> dict:
    with _at(day):
        r = client.post("/api/v1/metrics/lessons/event", json={"user_id": user}, headers=headers)
        assert r.status_code == 201
        return r.json


def _restore(client, headers, day: int, body=None, user="u1"):
    with _at(day):
        return client.post(
            f"/api/v1/users/{user}/streak/restore",
            json=body if body is not None else {"reason": "outage"},
            headers=headers,
        )


def _count(db, model) -> int:
    return db.session.execute(db.select(db.func.count()).select_from(model)).scalar()


def _score(client, headers, user="u1"):
    return client.get(f"/api/v1/leaderboards/streaks/users/{user}", headers=headers).json["score"]


def _lost_after_three_days(client, headers):
    """Lessons on 1-3 March, none on the 4th: read on the 6th, the 3-day streak is lost (broke on the 4th)."""
    for day in (1, 2, 3):
        _lesson(client, headers, day)
    with _at(6):
        assert client.get("/api/v1/users/u1/streak", headers=headers).json["length"] == 0


# ------------------------------------------------------------------------------------------ restore


def test_restore_gives_the_lost_length_back_ledgered_and_on_streak_boards(client, headers, db):
    spec = Spec(client)
    _lost_after_three_days(client, headers)
    assert _score(client, headers) == 0
    r = _restore(client, headers, 6, {"reason": "app outage on 4 March"})
    body = spec.check(r, RESTORE, "post")
    assert r.status_code == 201
    assert body["restored"] == {
        "length": 3,
        "lost_period_start": "2026-03-04",
        "reason": "app outage on 4 March",
        "created_at": "2026-03-06T09:00:00+00:00",
    }
    streak = body["streak"]
    # alive as if the 4th and 5th had been frozen: due today, lost at the end of the 6th (UTC player)
    assert (streak["length"], streak["longest"], streak["at_risk"]) == (3, 3, True)
    assert streak["expires_utc"] == "2026-03-07T00:00:00+00:00"
    row = db.session.execute(db.select(StreakRestoration)).scalar_one()
    assert (row.lost_period_start, row.length, row.reason) == (date(2026, 3, 4), 3, "app outage on 4 March")
    assert db.session.get(UserStreak, row.user_id).started_on == date(2026, 3, 1)
    assert _score(client, headers) == 3
    assert _lesson(client, headers, 6)["streak"]["length"] == 4  # it goes on from there


def test_a_restored_streak_lost_again_can_be_restored_again(client, headers):
    _lost_after_three_days(client, headers)
    assert _restore(client, headers, 6).status_code == 201
    # nothing on the 6th: on the 7th it is lost again, at the length it was given back
    r = _restore(client, headers, 7)
    assert r.status_code == 201 and r.json["restored"]["length"] == 3
    assert r.json["restored"]["lost_period_start"] == "2026-03-06"
    _lesson(client, headers, 7)  # 4
    r = _restore(client, headers, 9)  # nothing on the 8th
    assert r.status_code == 201 and r.json["restored"]["length"] == 4


def test_restore_refuses_when_there_is_nothing_to_restore(client, headers, db):
    spec = Spec(client)
    client.post("/api/v1/users/fresh", json={}, headers=headers)  # no streak activity at all
    r = _restore(client, headers, 6, user="fresh")
    assert r.status_code == 409 and r.json["error"]["field"] == "streak"
    spec.check(r, RESTORE, "post")
    for day in (1, 2):
        _lesson(client, headers, day)
    r = _restore(client, headers, 2)  # running, never lost
    assert r.status_code == 409 and "running" in r.json["error"]["message"]
    _lesson(client, headers, 5)  # lost on the 3rd; a new streak runs since the 5th
    r = _restore(client, headers, 5)
    assert r.status_code == 409 and "running (length 1)" in r.json["error"]["message"]
    with _at(7):  # the new 1-day streak lapses too: restorable, to 1
        assert client.get("/api/v1/users/u1/streak", headers=headers).json["length"] == 0
    r = _restore(client, headers, 7)
    assert r.status_code == 201 and r.json["restored"]["length"] == 1
    r = _restore(client, headers, 7)  # given back already: running again
    assert r.status_code == 409
    assert _count(db, StreakRestoration) == 1


def test_restore_needs_a_configured_streak(client, headers, db):
    _lost_after_three_days(client, headers)
    db.session.execute(db.update(StreakConfig).values(enabled=False))
    snapshot.bump()  # as the admin's settings page does
    db.session.commit()
    r = _restore(client, headers, 6)
    assert r.status_code == 409 and r.json["error"]["field"] == "streak", r.json
    r = client.post("/api/v1/users/u1/streak/freezes", json={"reason": "r"}, headers=headers)
    assert r.status_code == 409 and r.json["error"]["field"] == "streak"
    assert _count(db, StreakRestoration) == 0 and _count(db, FreezeLedger) == 0


@pytest.mark.parametrize(
    "body, field",
    [({}, "reason"), ({"reason": ""}, "reason"), ({"reason": 5}, "reason"), ({"reason": "x" * 256}, "reason")],
)
def test_restore_bad_input_names_the_field_and_restores_nothing(client, headers, db, body, field):
    _lost_after_three_days(client, headers)
    r = _restore(client, headers, 6, body)
    assert r.status_code == 400 and r.json["error"]["field"] == field
    Spec(client).check(r, RESTORE, "post")
    assert _count(db, StreakRestoration) == 0
    with _at(6):
        assert client.get("/api/v1/users/u1/streak", headers=headers).json["length"] == 0


def test_restore_refuses_unknown_players_and_missing_keys(client, headers):
    spec = Spec(client)
    r = _restore(client, headers, 6, user="ghost")
    assert r.status_code == 404 and r.json["error"]["field"] == "user_id"
    spec.check(r, RESTORE, "post")
    for h in ({}, {"Authorization": "Bearer gk_wrong"}):
        r = _restore(client, h, 6)
        assert r.status_code == 401
        spec.check(r, RESTORE, "post")


# ------------------------------------------------------------------------------------------ freezes


def test_freeze_grants_stop_at_the_maximum(client, headers, db):
    spec = Spec(client)
    client.post("/api/v1/users/u1", json={}, headers=headers)
    r = client.post("/api/v1/users/u1/streak/freezes", json={"amount": 2, "reason": "ticket 1"}, headers=headers)
    body = spec.check(r, FREEZES, "post")
    assert r.status_code == 201 and body == {
        "granted": 2,
        "requested": 2,
        "freezes": 2,
        "max_freezes": 3,
        "control": False,
    }
    r = client.post("/api/v1/users/u1/streak/freezes", json={"amount": 2, "reason": "ticket 2"}, headers=headers)
    assert r.status_code == 201 and (r.json["granted"], r.json["freezes"]) == (1, 3)
    r = client.post("/api/v1/users/u1/streak/freezes", json={"reason": "ticket 3"}, headers=headers)
    assert r.status_code == 409 and r.json["error"]["field"] == "amount" and "3" in r.json["error"]["message"]
    spec.check(r, FREEZES, "post")
    rows = db.session.execute(db.select(FreezeLedger)).scalars().all()
    assert len(rows) == 3 and all(x.kind == "granted" and x.delta == 1 for x in rows)
    assert rows[0].reason.startswith("api key #") and rows[0].reason.endswith(": ticket 1")
    assert client.get("/api/v1/users/u1/streak", headers=headers).json["freezes"] == 3


def test_a_granted_freeze_protects_a_missed_day(client, headers):
    for day in (1, 2):
        _lesson(client, headers, day)
    with _at(2, 12):
        client.post("/api/v1/users/u1/streak/freezes", json={"reason": "gift"}, headers=headers)
    with _at(4):  # the 3rd was missed: the freeze covers it
        body = client.get("/api/v1/users/u1/streak", headers=headers).json
    assert (body["length"], body["freezes"]) == (2, 0)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"amount": 0, "reason": "r"}, "amount"),
        ({"amount": 51, "reason": "r"}, "amount"),
        ({"amount": "2", "reason": "r"}, "amount"),
        ({"amount": 1}, "reason"),
        ({"amount": 1, "reason": "x" * 41}, "reason"),
    ],
)
def test_freeze_bad_input_names_the_field_and_grants_nothing(client, headers, db, body, field):
    client.post("/api/v1/users/u1", json={}, headers=headers)
    r = client.post("/api/v1/users/u1/streak/freezes", json=body, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == field
    Spec(client).check(r, FREEZES, "post")
    assert _count(db, FreezeLedger) == 0


def test_freezes_refuse_unknown_players_and_missing_keys(client, headers, db):
    spec = Spec(client)
    r = client.post("/api/v1/users/ghost/streak/freezes", json={"reason": "r"}, headers=headers)
    assert r.status_code == 404 and r.json["error"]["field"] == "user_id"
    spec.check(r, FREEZES, "post")
    r = client.post("/api/v1/users/u1/streak/freezes", json={"reason": "r"})
    assert r.status_code == 401
    spec.check(r, FREEZES, "post")
    assert _count(db, FreezeLedger) == 0
