"""Gifts and friends over the JSON API (/api/v1/users/<id>/gifts, /friends): the web pages' rules (limits,
friends only, full energy), declining (the sender gets the energy back), cursor pages, auth, bad input
with nothing written, unknown ids, another player's gifts and requests refused; every response is
checked against the generated OpenAPI document."""

from datetime import timedelta

import pytest
import time_machine

from gamify.models import EnergyGift, EnergyTransaction, Friendship, Notification, User
from gamify.services import energy
from tests import factories as f
from tests.apispec import Spec

NOW = f.utc(2026, 3, 2, 9, 5)
GIFTS = "/api/v1/users/{external_id}/gifts"
GIFT_ACCEPT = "/api/v1/users/{external_id}/gifts/{gift_id}/accept"
GIFT_DECLINE = "/api/v1/users/{external_id}/gifts/{gift_id}/decline"
FRIENDS = "/api/v1/users/{external_id}/friends"
FRIEND = "/api/v1/users/{external_id}/friends/{friend_id}"
FRIEND_ACCEPT = FRIEND + "/accept"
FRIEND_DECLINE = FRIEND + "/decline"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def api(client, db):
    """The client with a key, and the players ann, bob (friends) and cat (a stranger to both)."""
    key = {"X-API-Key": f.api_key()}
    for uid, name in (("ann", "Ann"), ("bob", "Bob"), ("cat", "Cat")):
        assert client.post(f"/api/v1/users/{uid}", json={"name": name}, headers=key).status_code == 201
    assert client.post("/api/v1/users/ann/friends", json={"friend": "bob"}, headers=key).status_code == 201
    assert client.post("/api/v1/users/bob/friends/ann/accept", headers=key).status_code == 200
    return key


@pytest.fixture
def spec(client):
    return Spec(client)


def uid(db, external_id):
    return db.session.execute(db.select(User.id).where(User.external_id == external_id)).scalar_one()


def energy_of(client, api, who):
    return client.get(f"/api/v1/users/{who}/energy", headers=api).json["current"]


def ledger(db, who, type_):
    rows = db.session.execute(
        db.select(EnergyTransaction).where(EnergyTransaction.user_id == uid(db, who), EnergyTransaction.type == type_)
    ).scalars()
    return [t.amount for t in rows]


def count(db, model):
    return db.session.execute(db.select(db.func.count()).select_from(model)).scalar()


def send(client, api, sender="ann", **body):
    return client.post(f"/api/v1/users/{sender}/gifts", json={"recipient": "bob", **body}, headers=api)


# ------------------------------------------------------------------------------------------ gifts


def test_send_spends_now_and_the_friend_accepts(client, api, db, spec):
    r = send(client, api, amount=10, message="for the duel")
    body = spec.check(r, GIFTS, "post")
    assert r.status_code == 201
    gift = body["gift"]
    assert gift["sender"] == {"id": "ann", "name": "Ann"} and gift["recipient"] == {"id": "bob", "name": "Bob"}
    assert (gift["amount"], gift["message"], gift["status"]) == (10, "for the duel", "pending")
    assert gift["created_at"] == "2026-03-02T09:05:00+00:00"
    assert gift["expires_at"] == "2026-03-03T09:05:00+00:00"  # 24 hours, the spec's expiry
    assert body["energy"]["current"] == 140  # 150 - 10, spent at once
    assert ledger(db, "ann", "gift_sent") == [-10]
    note = db.session.execute(db.select(Notification).where(Notification.user_id == uid(db, "bob"))).scalar_one()
    assert note.type == "gift" and note.title == "Ann sent you 10 energy"

    listed = spec.check(client.get("/api/v1/users/bob/gifts", headers=api), GIFTS, "get")
    assert [g["id"] for g in listed["gifts"]] == [gift["id"]] and listed["next_cursor"] is None
    assert listed["limits"]["received_today"] == 1 and listed["limits"]["received_left"] == 9

    # Bob is full (150 of 150): accepting now would waste the gift, so it waits.
    full = client.post(f"/api/v1/users/bob/gifts/{gift['id']}/accept", headers=api)
    assert spec.check(full, GIFT_ACCEPT, "post")["error"]["field"] == "gift" and full.status_code == 409
    client.post("/api/v1/users/bob/energy/adjust", json={"amount": -20}, headers=api)
    ok = client.post(f"/api/v1/users/bob/gifts/{gift['id']}/accept", headers=api)
    body = spec.check(ok, GIFT_ACCEPT, "post")
    assert ok.status_code == 200 and body["credited"] == 10 and body["energy"]["current"] == 140
    assert body["gift"]["status"] == "accepted" and body["gift"]["resolved_at"] == "2026-03-02T09:05:00+00:00"
    assert ledger(db, "bob", "gift_received") == [10]
    again = client.post(f"/api/v1/users/bob/gifts/{gift['id']}/accept", headers=api)
    assert again.status_code == 409 and again.json["error"]["message"] == "This gift was already accepted."


def test_decline_returns_the_energy_to_the_sender(client, api, db, spec):
    gift = send(client, api, amount=25).json["gift"]
    assert energy_of(client, api, "ann") == 125
    r = client.post(f"/api/v1/users/bob/gifts/{gift['id']}/decline", headers=api)
    body = spec.check(r, GIFT_DECLINE, "post")
    assert r.status_code == 200
    assert body["gift"]["status"] == "declined" and body["gift"]["refunded"] is True
    assert body["gift"]["credited"] is None
    assert energy_of(client, api, "ann") == 150
    assert ledger(db, "ann", "gift_refund") == [25] and ledger(db, "bob", "gift_received") == []
    titles = db.session.execute(db.select(Notification.title).where(Notification.user_id == uid(db, "ann"))).scalars()
    assert list(titles) == ["Bob declined your gift"]
    # Answered once: neither a second decline nor an accept changes anything.
    for verb in ("decline", "accept"):
        r = client.post(f"/api/v1/users/bob/gifts/{gift['id']}/{verb}", headers=api)
        assert r.status_code == 409 and r.json["error"]["message"] == "This gift was already declined."
    assert energy_of(client, api, "ann") == 150
    # It still counts against the day's limits, as any gift sent.
    limits = client.get("/api/v1/users/ann/gifts?box=sent", headers=api).json["limits"]
    assert limits["sent_today"] == 1


def test_an_expired_gift_can_be_neither_accepted_nor_declined(client, api, db, spec):
    gift = send(client, api).json["gift"]
    client.post("/api/v1/users/bob/energy/adjust", json={"amount": -50}, headers=api)
    with time_machine.travel(NOW + timedelta(hours=24), tick=False):
        for verb in ("accept", "decline"):
            r = client.post(f"/api/v1/users/bob/gifts/{gift['id']}/{verb}", headers=api)
            assert r.status_code == 409 and r.json["error"]["message"] == "This gift has expired."
        listed = client.get("/api/v1/users/bob/gifts", headers=api).json["gifts"]
        assert listed[0]["status"] == "expired"  # before the expiry job marks it
        assert client.get("/api/v1/users/bob/gifts?status=pending", headers=api).json["gifts"] == []
        expired = client.get("/api/v1/users/bob/gifts?status=expired", headers=api)
        assert [g["id"] for g in spec.check(expired, GIFTS, "get")["gifts"]] == [gift["id"]]
    assert ledger(db, "ann", "gift_refund") == []


def test_gift_pages_follow_a_cursor_newest_first(client, api, db, spec):
    energy.update_settings(gifts_sent_per_day=10)
    db.session.commit()
    ids = []
    for i in range(5):  # two by two at the same instant: the id orders those
        with time_machine.travel(NOW + timedelta(minutes=i // 2), tick=False):
            ids.append(send(client, api, amount=1).json["gift"]["id"])
    pages, cursor = [], None
    while True:
        url = "/api/v1/users/ann/gifts?box=sent&limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = spec.check(client.get(url, headers=api), GIFTS, "get")
        pages.append([g["id"] for g in body["gifts"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        if len(pages) == 1:  # a gift sent meanwhile appears on a first page, not in the middle of these
            with time_machine.travel(NOW + timedelta(minutes=9), tick=False):
                ids.append(send(client, api, amount=1).json["gift"]["id"])
    assert pages == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]
    # A cursor belongs to its list: not to another player's, nor to the other box.
    cursor = client.get("/api/v1/users/ann/gifts?box=sent&limit=1", headers=api).json["next_cursor"]
    for url in ("/api/v1/users/bob/gifts?box=sent", "/api/v1/users/ann/gifts?box=received"):
        r = client.get(f"{url}&cursor={cursor}", headers=api)
        assert r.status_code == 400 and spec.check(r, GIFTS, "get")["error"]["field"] == "cursor", url
    assert client.get("/api/v1/users/bob/gifts?box=sent", headers=api).json["gifts"] == []
    assert len(client.get("/api/v1/users/bob/gifts?box=received&limit=100", headers=api).json["gifts"]) == 6


def test_gift_limits_and_rules_are_the_web_pages(client, api, db, spec):
    r = send(client, api, recipient="cat")
    assert r.status_code == 403 and spec.check(r, GIFTS, "post")["error"]["field"] == "recipient"
    assert "only send energy to friends" in r.json["error"]["message"]
    r = send(client, api, recipient="ann")
    assert r.status_code == 400 and r.json["error"]["message"] == "You can't send energy to yourself."
    energy.update_settings(gifts_sent_per_day=1)
    db.session.commit()
    assert send(client, api).status_code == 201
    r = send(client, api)
    assert r.status_code == 429 and spec.check(r, GIFTS, "post")["error"]["limit"] == 1
    assert "already sent 1 gifts today" in r.json["error"]["message"]
    assert count(db, EnergyGift) == 1 and ledger(db, "ann", "gift_sent") == [-10]


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"amount": 0}, "amount", "A gift is 1 to 50 energy."),
        ({"amount": 51}, "amount", "A gift is 1 to 50 energy."),
        ({"amount": "10"}, "amount", "amount must be a whole number from -2147483647 to 2147483647"),
        ({"amount": 2.5}, "amount", None),
        ({"amount": True}, "amount", None),
        ({"message": "x" * 201}, "message", "message must be a string of at most 200 characters"),
        ({"message": "a\u0000b"}, "message", "message must not contain a NUL character"),
        ({"recipient": None}, "recipient", "recipient is required"),
        ({"recipient": ""}, "recipient", None),
        ({"recipient": ["bob"]}, "recipient", None),
    ],
)
def test_bad_gifts_are_refused_naming_the_field_and_write_nothing(client, api, db, spec, body, field, message):
    r = send(client, api, **body)
    err = spec.check(r, GIFTS, "post")["error"]
    assert r.status_code == 400 and err["field"] == field, err
    if message:
        assert err["message"] == message
    assert count(db, EnergyGift) == 0 and ledger(db, "ann", "gift_sent") == []
    assert energy_of(client, api, "ann") == 150


def test_a_gift_without_recipient_says_what_is_missing(client, api, db, spec):
    r = client.post("/api/v1/users/ann/gifts", json={"amount": 5}, headers=api)
    assert r.status_code == 400 and spec.check(r, GIFTS, "post")["error"] == {
        "field": "recipient",
        "message": "recipient is required: the host app's id of a friend",
    }
    r = client.post("/api/v1/users/ann/gifts", data="[1]", content_type="application/json", headers=api)
    assert r.status_code == 400 and r.json["error"]["field"] == "body"
    assert count(db, EnergyGift) == 0


def test_gift_queries_are_checked(client, api, spec):
    for query, field in (("box=inbox", "box"), ("status=lost", "status"), ("limit=0", "limit"), ("limit=101", "limit")):
        r = client.get(f"/api/v1/users/ann/gifts?{query}", headers=api)
        assert r.status_code == 400 and spec.check(r, GIFTS, "get")["error"]["field"] == field, query
    for cursor in ("nonsense", "W10", "eyJ4IjogMX0", "WyIyMDI2LTAzLTAyVDA5OjA1OjAwIiwgMV0"):  # [], {}, no zone
        r = client.get(f"/api/v1/users/ann/gifts?cursor={cursor}", headers=api)
        assert r.status_code == 400 and r.json["error"]["field"] == "cursor", cursor


def test_unknown_players_and_gifts_are_404(client, api, db, spec):
    r = client.post("/api/v1/users/nobody/gifts", json={"recipient": "bob"}, headers=api)
    assert r.status_code == 404 and spec.check(r, GIFTS, "post")["error"]["field"] == "user_id"
    r = send(client, api, recipient="nobody")
    assert r.status_code == 404 and r.json["error"]["field"] == "recipient"
    assert client.get("/api/v1/users/nobody/gifts", headers=api).status_code == 404
    for verb in ("accept", "decline"):
        r = client.post(f"/api/v1/users/bob/gifts/999/{verb}", headers=api)
        assert r.status_code == 404 and r.json["error"] == {"field": "gift", "message": "Gift not found."}
        assert client.post(f"/api/v1/users/bob/gifts/{2**40}/{verb}", headers=api).status_code == 404
        assert client.post(f"/api/v1/users/nobody/gifts/1/{verb}", headers=api).status_code == 404
    assert count(db, User) == 3


def test_a_gift_sent_to_someone_else_cannot_be_answered(client, api, db, spec):
    gift = send(client, api).json["gift"]
    client.post("/api/v1/users/cat/energy/adjust", json={"amount": -50}, headers=api)
    for who in ("cat", "ann"):  # a stranger, and the sender
        for verb, path in (("accept", GIFT_ACCEPT), ("decline", GIFT_DECLINE)):
            r = client.post(f"/api/v1/users/{who}/gifts/{gift['id']}/{verb}", headers=api)
            assert r.status_code == 404 and spec.check(r, path, "post")["error"]["message"] == "Gift not found."
    assert db.session.get(EnergyGift, gift["id"]).status == "pending"
    assert energy_of(client, api, "ann") == 140 and energy_of(client, api, "cat") == 100


# ------------------------------------------------------------------------------------------ friends


def test_request_accept_and_list_friends(client, api, db, spec):
    r = client.post("/api/v1/users/cat/friends", json={"friend": "ann"}, headers=api)
    body = spec.check(r, FRIENDS, "post")
    assert r.status_code == 201 and body["status"] == "pending" and body["friend"] == {"id": "ann", "name": "Ann"}
    cat = spec.check(client.get("/api/v1/users/cat/friends", headers=api), FRIENDS, "get")
    assert cat == {
        "friends": [],
        "incoming": [],
        "outgoing": [{"id": "ann", "name": "Ann", "requested_at": "2026-03-02T09:05:00+00:00"}],
        "control": False,
    }
    ann = client.get("/api/v1/users/ann/friends", headers=api).json
    assert ann["friends"] == [{"id": "bob", "name": "Bob", "since": "2026-03-02T09:05:00+00:00"}]
    assert [p["id"] for p in ann["incoming"]] == ["cat"] and ann["outgoing"] == []
    r = client.post("/api/v1/users/ann/friends/cat/accept", headers=api)
    assert spec.check(r, FRIEND_ACCEPT, "post")["status"] == "accepted" and r.status_code == 200
    assert [p["id"] for p in client.get("/api/v1/users/ann/friends", headers=api).json["friends"]] == ["bob", "cat"]
    assert [p["id"] for p in client.get("/api/v1/users/cat/friends", headers=api).json["friends"]] == ["ann"]


def test_asking_someone_who_asked_you_accepts(client, api, spec):
    client.post("/api/v1/users/cat/friends", json={"friend": "bob"}, headers=api)
    r = client.post("/api/v1/users/bob/friends", json={"friend": "cat"}, headers=api)
    assert r.status_code == 200 and spec.check(r, FRIENDS, "post")["status"] == "accepted"
    assert r.json["message"] == "You and Cat are now friends."


def test_friend_requests_refused_as_on_the_web_page(client, api, db, spec):
    cases = [
        ({"friend": "bob"}, 409, "friend", "You and Bob are already friends."),
        ({"friend": "ann"}, 400, "friend", "You can't add yourself as a friend."),
        ({"friend": "nobody"}, 404, "friend", "unknown user 'nobody'"),
        ({}, 400, "friend", "friend is required: the host app's id of the player to ask"),
        ({"friend": 7.5}, 400, "friend", None),
    ]
    for body, status, field, message in cases:
        r = client.post("/api/v1/users/ann/friends", json=body, headers=api)
        err = spec.check(r, FRIENDS, "post")["error"]
        assert (r.status_code, err["field"]) == (status, field), (body, err)
        assert message is None or err["message"] == message
    client.post("/api/v1/users/ann/friends", json={"friend": "cat"}, headers=api)
    r = client.post("/api/v1/users/ann/friends", json={"friend": "cat"}, headers=api)
    assert r.status_code == 409 and r.json["error"]["message"] == "You already asked Cat; waiting for an answer."
    assert count(db, Friendship) == 2


def test_decline_cancel_and_remove(client, api, db, spec):
    client.post("/api/v1/users/cat/friends", json={"friend": "ann"}, headers=api)
    r = client.post("/api/v1/users/ann/friends/cat/decline", headers=api)  # declined by the one asked
    assert r.status_code == 200 and spec.check(r, FRIEND_DECLINE, "post")["status"] == "none"
    client.post("/api/v1/users/cat/friends", json={"friend": "ann"}, headers=api)
    assert client.post("/api/v1/users/cat/friends/ann/decline", headers=api).status_code == 200  # cancelled
    r = client.post("/api/v1/users/cat/friends/ann/decline", headers=api)
    assert r.status_code == 404 and spec.check(r, FRIEND_DECLINE, "post")["error"]["field"] == "friend"
    r = client.delete("/api/v1/users/ann/friends/bob", headers=api)
    assert r.status_code == 200 and spec.check(r, FRIEND, "delete")["status"] == "none"
    assert client.get("/api/v1/users/bob/friends", headers=api).json["friends"] == []
    r = client.delete("/api/v1/users/ann/friends/bob", headers=api)
    assert r.status_code == 404 and spec.check(r, FRIEND, "delete")["error"]["message"] == (
        "You are not friends with that player."
    )
    assert count(db, Friendship) == 0


def test_someone_elses_request_cannot_be_answered(client, api, db, spec):
    client.post("/api/v1/users/ann/friends", json={"friend": "cat"}, headers=api)
    for who, other in (("bob", "ann"), ("ann", "cat")):  # a third player; the asker accepting their own
        r = client.post(f"/api/v1/users/{who}/friends/{other}/accept", headers=api)
        assert r.status_code == 404 and spec.check(r, FRIEND_ACCEPT, "post")["error"]["message"] == (
            "That friend request is not waiting for you."
        )
    r = client.post("/api/v1/users/bob/friends/ann/decline", headers=api)  # bob and ann are friends, not asked
    assert r.status_code == 404
    r = client.delete("/api/v1/users/cat/friends/bob", headers=api)
    assert r.status_code == 404
    rows = db.session.execute(db.select(Friendship.status).order_by(Friendship.id)).scalars()
    assert list(rows) == ["accepted", "pending"]


def test_unknown_players_in_friend_routes_are_404(client, api, spec):
    for method, url, path, field in (
        ("GET", "/api/v1/users/nobody/friends", FRIENDS, "user_id"),
        ("POST", "/api/v1/users/nobody/friends/ann/accept", FRIEND_ACCEPT, "user_id"),
        ("POST", "/api/v1/users/ann/friends/nobody/accept", FRIEND_ACCEPT, "friend_id"),
        ("POST", "/api/v1/users/ann/friends/nobody/decline", FRIEND_DECLINE, "friend_id"),
        ("DELETE", "/api/v1/users/ann/friends/nobody", FRIEND, "friend_id"),
    ):
        r = client.open(url, method=method, headers=api)
        assert r.status_code == 404 and spec.check(r, path, method)["error"]["field"] == field, url


# ------------------------------------------------------------------------------------------ auth


ROUTES = [
    ("POST", "/api/v1/users/ann/gifts", {"recipient": "bob"}),
    ("GET", "/api/v1/users/ann/gifts", None),
    ("POST", "/api/v1/users/bob/gifts/1/accept", None),
    ("POST", "/api/v1/users/bob/gifts/1/decline", None),
    ("GET", "/api/v1/users/ann/friends", None),
    ("POST", "/api/v1/users/ann/friends", {"friend": "cat"}),
    ("POST", "/api/v1/users/ann/friends/cat/accept", None),
    ("POST", "/api/v1/users/ann/friends/cat/decline", None),
    ("DELETE", "/api/v1/users/ann/friends/bob", None),
]


def test_every_route_needs_a_valid_key(client, api, db, spec):
    gift = send(client, api).json["gift"]
    before = (count(db, EnergyGift), count(db, Friendship), count(db, EnergyTransaction))
    for method, url, body in ROUTES:
        url = url.replace("/1/", f"/{gift['id']}/")
        for headers in ({}, {"X-API-Key": "gk_wrong"}, {"Authorization": "Bearer gk_wrong"}):
            r = client.open(url, method=method, json=body, headers=headers)
            assert r.status_code == 401 and r.json["error"]["field"] == "api_key", (method, url, headers)
            spec.validator({"$ref": "#/components/schemas/ErrorOut"}).validate(r.json)
    assert (count(db, EnergyGift), count(db, Friendship), count(db, EnergyTransaction)) == before
    bearer = {"Authorization": api["X-API-Key"].join(("Bearer ", ""))}
    assert client.get("/api/v1/users/ann/friends", headers=bearer).status_code == 200
