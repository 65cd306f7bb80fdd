"""The host product's user fields (issue 16 item 3): sign-up day, the e-mail switch and device tokens,
set through /api/v1 identify (single and bulk) and returned by the user answers; subscribe_to_emails
false stops every gamify e-mail to the player, skipped with the reason at send time."""

from datetime import date, datetime, timezone

import pytest
import time_machine

from gamify import jobs
from gamify.extensions import db
from gamify.models import DeviceToken, EmailSend
from gamify.services import reminders
from tests import factories as f
from tests.apispec import Spec
from tests.mailfixtures import player, smtp_server, streak_until  # noqa: F401

USER = "/api/v1/users/{external_id}"
NOW = f.utc(2026, 3, 4, 11)  # 4 March 11:00 UTC: already 5 March 01:00 in Kiritimati (UTC+14)


@pytest.fixture
def headers(app):
    return {"X-API-Key": f.api_key()}


def _identify(client, headers, user: str, body: dict):
    with time_machine.travel(NOW, tick=False):
        return client.post(f"/api/v1/users/{user}", json=body, headers=headers)


def test_identify_stores_and_returns_the_fields(client, headers, db):
    spec = Spec(client)
    r = _identify(
        client,
        headers,
        "u1",
        {"sign_up_date": "2025-11-30", "subscribe_to_emails": False, "device_tokens": ["phone", "tablet", "phone"]},
    )
    body = spec.check(r, USER, "post")
    assert r.status_code == 201
    assert (body["sign_up_date"], body["subscribe_to_emails"], body["device_tokens"]) == (
        "2025-11-30",
        False,
        ["phone", "tablet"],  # the repeat dropped, order kept
    )
    got = client.get("/api/v1/users/u1", headers=headers).json
    assert (got["sign_up_date"], got["subscribe_to_emails"], got["device_tokens"]) == (
        "2025-11-30",
        False,
        ["phone", "tablet"],
    )
    # Fields left out are kept; device_tokens replaces the list; [] removes them all.
    r = _identify(client, headers, "u1", {"name": "Ann", "device_tokens": ["watch", "phone"]})
    assert (r.json["sign_up_date"], r.json["subscribe_to_emails"]) == ("2025-11-30", False)
    assert r.json["device_tokens"] == ["phone", "watch"]  # oldest first: the phone was registered before
    assert _identify(client, headers, "u1", {"device_tokens": []}).json["device_tokens"] == []
    assert _identify(client, headers, "u1", {"subscribe_to_emails": True}).json["subscribe_to_emails"] is True
    # A new player without them: no sign-up day, e-mails on, no devices.
    fresh = _identify(client, headers, "u2", {}).json
    assert (fresh["sign_up_date"], fresh["subscribe_to_emails"], fresh["device_tokens"]) == (None, True, [])


def test_a_date_time_is_taken_as_its_utc_day_and_the_players_zone_decides_today(client, headers):
    # 23:30 in New York on 3 March is 04:30 UTC on the 4th.
    r = _identify(client, headers, "ny", {"sign_up_date": "2026-03-03T23:30:00-05:00"})
    assert r.json["sign_up_date"] == "2026-03-04"
    assert (
        _identify(client, headers, "z", {"sign_up_date": "2026-03-04T10:00:00Z"}).json["sign_up_date"] == "2026-03-04"
    )
    # The 5th is tomorrow in UTC but today in Kiritimati.
    r = _identify(client, headers, "utc", {"sign_up_date": "2026-03-05"})
    assert (r.status_code, r.json["error"]["field"]) == (400, "sign_up_date")
    r = _identify(client, headers, "kiri", {"tz": "Pacific/Kiritimati", "sign_up_date": "2026-03-05"})
    assert r.status_code == 201 and r.json["sign_up_date"] == "2026-03-05"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"sign_up_date": "2026-13-01"}, "sign_up_date"),
        ({"sign_up_date": "yesterday"}, "sign_up_date"),
        ({"sign_up_date": "1969-12-31"}, "sign_up_date"),
        ({"sign_up_date": 20260301}, "sign_up_date"),
        ({"subscribe_to_emails": "no"}, "subscribe_to_emails"),
        ({"subscribe_to_emails": 0}, "subscribe_to_emails"),
        ({"device_tokens": "phone"}, "device_tokens"),
        ({"device_tokens": [f"t{i}" for i in range(21)]}, "device_tokens"),
        ({"device_tokens": ["ok", ""]}, "device_tokens[1]"),
        ({"device_tokens": ["x" * 513]}, "device_tokens[0]"),
        ({"device_tokens": [7]}, "device_tokens[0]"),
    ],
)
def test_bad_fields_are_refused_naming_them(client, headers, db, body, field):
    r = _identify(client, headers, "u1", body)
    assert (r.status_code, r.json["error"]["field"]) == (400, field), r.json
    assert client.get("/api/v1/users/u1", headers=headers).status_code == 404  # nothing created
    assert db.session.execute(db.select(db.func.count()).select_from(DeviceToken)).scalar() == 0


def test_a_token_moves_to_the_player_who_registers_it_and_others_are_untouched(client, headers):
    _identify(client, headers, "ann", {"device_tokens": ["shared", "ann-only"]})
    _identify(client, headers, "bob", {"device_tokens": ["bob-only"]})
    r = _identify(client, headers, "bob", {"device_tokens": ["bob-only", "shared"]})
    assert r.json["device_tokens"] == ["bob-only", "shared"]
    assert client.get("/api/v1/users/ann", headers=headers).json["device_tokens"] == ["ann-only"]
    assert client.get("/api/v1/users/nobody", headers=headers).status_code == 404


def test_bulk_identify_takes_the_fields_per_player(client, headers):
    body = {
        "users": [
            {"id": "a", "sign_up_date": "2026-01-02", "device_tokens": ["a1"]},
            {"id": "b", "subscribe_to_emails": "maybe"},
            {"id": "c", "subscribe_to_emails": False},
        ]
    }
    with time_machine.travel(NOW, tick=False):
        results = client.post("/api/v1/users", json=body, headers=headers).json["results"]
    assert [r["status"] for r in results] == [201, 400, 201]
    assert (results[0]["sign_up_date"], results[0]["device_tokens"]) == ("2026-01-02", ["a1"])
    assert results[1]["error"]["field"] == "subscribe_to_emails"
    assert results[2]["subscribe_to_emails"] is False


# ------------------------------------------------------------------------------------------ e-mails

EVENING = datetime(2026, 3, 10, 20, 0, tzinfo=timezone.utc)  # 20:00 in London, the reminder hour


def test_no_email_reaches_a_player_unsubscribed_by_the_product(app, client, headers, smtp_server):
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    ann = streak_until(player("ann", "Europe/London"), date(2026, 3, 9), 5)
    streak_until(player("bob", "Europe/London"), date(2026, 3, 9), 5)
    with time_machine.travel(EVENING, tick=False):
        r = client.post("/api/v1/users/ann", json={"subscribe_to_emails": False}, headers=headers)
        assert r.status_code == 200
        ids = reminders.select_streak_reminders()
        db.session.commit()
        outcomes = {db.session.get(EmailSend, i).user_id: jobs.deliver_email(i) for i in ids}
    assert outcomes[ann.id].startswith("skipped")
    row = db.session.execute(db.select(EmailSend).where(EmailSend.user_id == ann.id)).scalar_one()
    assert row.status == "skipped" and "subscribe_to_emails" in row.last_error
    assert [m.rcpt_tos for m in smtp_server.messages] == [["bob@example.com"]]
    # Any type: an achievement mail is composed for nobody either.
    achievement = EmailSend(user_id=ann.id, type="achievement", period_start=date(2026, 3, 10), ref="x", payload={})
    with pytest.raises(reminders.Skip, match="subscribe_to_emails"):
        reminders.compose(achievement, EVENING)


def test_null_fields_are_left_as_they_are(client, headers):
    _identify(
        client, headers, "u1", {"sign_up_date": "2026-01-01", "device_tokens": ["a"], "subscribe_to_emails": False}
    )
    r = _identify(client, headers, "u1", {"sign_up_date": None, "device_tokens": None, "subscribe_to_emails": None})
    assert r.status_code == 200, r.json
    assert (r.json["sign_up_date"], r.json["device_tokens"], r.json["subscribe_to_emails"]) == (
        "2026-01-01",
        ["a"],
        False,
    )
