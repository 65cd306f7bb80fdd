"""A player's in-app inbox and notification preferences over the JSON API: cursor pages newest first, the
unread filter, read marks (one, all; another player's refused), preferences per type and channel read and
changed (and obeyed by `outbox.notify`), bad input naming the field with nothing changed, unknown ids, auth;
every response checked against the generated OpenAPI document."""

from datetime import timedelta

import pytest
import time_machine

from gamify.models import Notification, NotificationPreference, User
from gamify.models.notifications import CHANNELS, NOTIFICATION_TYPES
from gamify.services import outbox
from tests import factories as f
from tests.apispec import Spec

NOW = f.utc(2026, 3, 2, 9, 5)
INBOX = "/api/v1/users/{external_id}/notifications"
READ = "/api/v1/users/{external_id}/notifications/{nid}/read"
READ_ALL = "/api/v1/users/{external_id}/notifications/read-all"
PREFS = "/api/v1/users/{external_id}/notification-preferences"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def api(client, db):
    key = {"X-API-Key": f.api_key()}
    for uid in ("ann", "bob"):
        assert client.post(f"/api/v1/users/{uid}", json={}, headers=key).status_code == 201
    return key


@pytest.fixture
def spec(client):
    return Spec(client)


def uid(db, external_id):
    return db.session.execute(db.select(User.id).where(User.external_id == external_id)).scalar_one()


def inbox(db, who, n, minutes=0, type_="gift"):
    """`n` notifications for `who`, one a minute from NOW + minutes; their ids, oldest first."""
    for i in range(n):
        with time_machine.travel(NOW + timedelta(minutes=minutes + i), tick=False):
            outbox.notify(uid(db, who), type_, f"note {minutes + i}", "body", "/energy")
    db.session.commit()
    return list(
        db.session.execute(
            db.select(Notification.id).where(Notification.user_id == uid(db, who)).order_by(Notification.id)
        ).scalars()
    )[-n:]


def test_inbox_pages_newest_first_with_the_unread_filter(client, api, db, spec):
    ids = inbox(db, "ann", 5)
    inbox(db, "bob", 2)
    body = spec.check(client.get("/api/v1/users/ann/notifications?limit=2", headers=api), INBOX, "get")
    assert [n["id"] for n in body["notifications"]] == [ids[4], ids[3]] and body["unread_count"] == 5
    first = body["notifications"][0]
    assert first == {
        "id": ids[4],
        "type": "gift",
        "title": "note 4",
        "body": "body",
        "link": "/energy",
        "created_at": "2026-03-02T09:09:00+00:00",
        "read_at": None,
    }
    seen = [n["id"] for n in body["notifications"]]
    while body["next_cursor"]:
        r = client.get(f"/api/v1/users/ann/notifications?limit=2&cursor={body['next_cursor']}", headers=api)
        body = spec.check(r, INBOX, "get")
        seen += [n["id"] for n in body["notifications"]]
    assert seen == ids[::-1]
    client.post(f"/api/v1/users/ann/notifications/{ids[3]}/read", headers=api)
    unread = client.get("/api/v1/users/ann/notifications?unread=true", headers=api).json
    assert [n["id"] for n in unread["notifications"]] == [ids[4], ids[2], ids[1], ids[0]]
    assert unread["unread_count"] == 4 and unread["next_cursor"] is None
    everything = client.get("/api/v1/users/ann/notifications?unread=false", headers=api).json
    assert len(everything["notifications"]) == 5


def test_reading_one_and_all(client, api, db, spec):
    ids = inbox(db, "ann", 3)
    bob_ids = inbox(db, "bob", 1)
    r = client.post(f"/api/v1/users/ann/notifications/{ids[0]}/read", headers=api)
    assert r.status_code == 200 and spec.check(r, READ, "post")["read_at"] == "2026-03-02T09:05:00+00:00"
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):  # read again: the first read time stays
        again = client.post(f"/api/v1/users/ann/notifications/{ids[0]}/read", headers=api).json
        assert again["read_at"] == "2026-03-02T09:05:00+00:00"
        r = client.post("/api/v1/users/ann/notifications/read-all", headers=api)
        assert spec.check(r, READ_ALL, "post") == {"marked": 2, "unread_count": 0, "control": False}
        assert client.post("/api/v1/users/ann/notifications/read-all", headers=api).json["marked"] == 0
    times = db.session.execute(db.select(Notification.read_at).where(Notification.id.in_(ids))).scalars()
    assert sorted(t.isoformat() for t in times) == ["2026-03-02T09:05:00+00:00"] + ["2026-03-02T10:05:00+00:00"] * 2
    assert db.session.get(Notification, bob_ids[0]).read_at is None  # another player's inbox is untouched


def test_another_players_notification_cannot_be_read(client, api, db, spec):
    bob_note = inbox(db, "bob", 1)[0]
    r = client.post(f"/api/v1/users/ann/notifications/{bob_note}/read", headers=api)
    assert r.status_code == 404 and spec.check(r, READ, "post")["error"]["field"] == "nid"
    assert db.session.get(Notification, bob_note).read_at is None
    for nid in (999, 2**40):
        assert client.post(f"/api/v1/users/ann/notifications/{nid}/read", headers=api).status_code == 404


def test_preferences_read_and_changed(client, api, db, spec):
    r = client.get("/api/v1/users/ann/notification-preferences", headers=api)
    body = spec.check(r, PREFS, "get")
    # push is off until the player subscribes a browser (or the host app switches it on)
    assert body["preferences"] == {t: {"in_app": True, "email": True, "push": False} for t in NOTIFICATION_TYPES}
    assert body["types"]["gift"] == "Energy gifts" and len(body["types"]) == 8
    change = {"preferences": {"gift": {"in_app": False}, "recap": {"email": False, "in_app": True}}}
    r = client.patch("/api/v1/users/ann/notification-preferences", json=change, headers=api)
    body = spec.check(r, PREFS, "patch")
    expected = {t: {"in_app": True, "email": True, "push": False} for t in NOTIFICATION_TYPES}
    expected["gift"]["in_app"] = False
    expected["recap"]["email"] = False
    assert r.status_code == 200 and body["preferences"] == expected
    assert client.get("/api/v1/users/ann/notification-preferences", headers=api).json["preferences"] == expected
    assert client.get("/api/v1/users/bob/notification-preferences", headers=api).json["preferences"]["gift"] == {
        "in_app": True,
        "email": True,
        "push": False,
    }
    # The switch is obeyed: gifts no longer reach Ann's inbox, Bob's still.
    inbox(db, "ann", 1, type_="gift")
    inbox(db, "ann", 1, type_="recap")  # only its e-mails are off
    inbox(db, "bob", 1, type_="gift")
    notes = db.session.execute(db.select(Notification.user_id, Notification.type).order_by(Notification.id)).all()
    assert [tuple(n) for n in notes] == [(uid(db, "ann"), "recap"), (uid(db, "bob"), "gift")]
    assert outbox.channel_enabled(uid(db, "ann"), "recap", "email") is False  # what the mailers ask
    # Switched on again: the stored row says so.
    client.patch(
        "/api/v1/users/ann/notification-preferences", json={"preferences": {"gift": {"in_app": True}}}, headers=api
    )
    rows = db.session.execute(
        db.select(NotificationPreference.type, NotificationPreference.channel, NotificationPreference.enabled)
        .where(NotificationPreference.user_id == uid(db, "ann"))
        .order_by(NotificationPreference.type)
    ).all()
    assert [tuple(r) for r in rows] == [("gift", "in_app", True), ("recap", "email", False)]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "preferences"),
        ({"preferences": {}}, "preferences"),
        ({"preferences": []}, "preferences"),
        ({"preferences": {"sms_blast": {"email": False}}}, "preferences.sms_blast"),
        ({"preferences": {"gift": False}}, "preferences.gift"),
        ({"preferences": {"gift": {}}}, "preferences.gift"),
        ({"preferences": {"gift": {"sms": False}}}, "preferences.gift.sms"),
        ({"preferences": {"gift": {"email": "false"}}}, "preferences.gift.email"),
        ({"preferences": {"recap": {"email": False}, "gift": {"email": 0}}}, "preferences.gift.email"),
    ],
)
def test_bad_preferences_are_refused_and_change_nothing(client, api, db, spec, body, field):
    r = client.patch("/api/v1/users/ann/notification-preferences", json=body, headers=api)
    assert r.status_code == 400 and spec.check(r, PREFS, "patch")["error"]["field"] == field
    assert db.session.execute(db.select(db.func.count(NotificationPreference.id))).scalar() == 0


def test_bad_inbox_queries_name_the_parameter(client, api, spec):
    for q, field in (("unread=maybe", "unread"), ("limit=0", "limit"), ("limit=x", "limit"), ("cursor=%25", "cursor")):
        r = client.get(f"/api/v1/users/ann/notifications?{q}", headers=api)
        assert r.status_code == 400 and spec.check(r, INBOX, "get")["error"]["field"] == field, q


def test_unknown_players_are_404(client, api, spec):
    for method, url, path in (
        ("GET", "/api/v1/users/nobody/notifications", INBOX),
        ("POST", "/api/v1/users/nobody/notifications/1/read", READ),
        ("POST", "/api/v1/users/nobody/notifications/read-all", READ_ALL),
        ("GET", "/api/v1/users/nobody/notification-preferences", PREFS),
        ("PATCH", "/api/v1/users/nobody/notification-preferences", PREFS),
    ):
        body = {"preferences": {"gift": {"email": False}}} if method == "PATCH" else None
        r = client.open(url, method=method, json=body, headers=api)
        assert r.status_code == 404 and spec.check(r, path, method)["error"]["field"] == "user_id", url


def test_every_route_needs_a_valid_key(client, api, db, spec):
    nid = inbox(db, "ann", 1)[0]
    for method, url in (
        ("GET", "/api/v1/users/ann/notifications"),
        ("POST", f"/api/v1/users/ann/notifications/{nid}/read"),
        ("POST", "/api/v1/users/ann/notifications/read-all"),
        ("GET", "/api/v1/users/ann/notification-preferences"),
        ("PATCH", "/api/v1/users/ann/notification-preferences"),
    ):
        body = {"preferences": {t: {c: False for c in CHANNELS} for t in NOTIFICATION_TYPES}}
        for headers in ({}, {"X-API-Key": "gk_wrong"}):
            r = client.open(url, method=method, json=body if method == "PATCH" else None, headers=headers)
            assert r.status_code == 401 and r.json["error"]["field"] == "api_key", (url, headers)
    assert db.session.get(Notification, nid).read_at is None
    assert db.session.execute(db.select(db.func.count(NotificationPreference.id))).scalar() == 0
