"""Players in bulk and data erasure over the JSON API: POST /api/v1/users (one result per player, a refused
one sinks nothing else), DELETE /api/v1/users/<id> (the player and every row that references them, in one
transaction; leaderboards rebuilt without them), and the admin page's "erase this player" form; every API
response checked against the generated OpenAPI document."""

from datetime import date, timedelta

import pytest
import redis as redis_lib
import time_machine
from sqlalchemy import Integer

from gamify import redis_roles
from gamify.extensions import db as _db
from gamify.models import (
    Achievement,
    AchievementProgress,
    BackfillRun,
    EmailSend,
    EnergyAction,
    EnergyBoost,
    EnergyReview,
    EnergyTransaction,
    Leaderboard,
    LeaderboardRun,
    NotificationDelivery,
    PlayerActivityDay,
    PushSubscription,
    StreakRestoration,
    User,
    WebhookEndpoint,
)
from gamify.models.users import UsedLoginLink
from gamify.services import leaderboards as boards
from gamify.services import streaks, webhooks
from tests import factories as f
from tests.apispec import Spec

NOW = f.utc(2026, 3, 4, 9, 5)  # a Wednesday
USERS = "/api/v1/users"
USER = "/api/v1/users/{external_id}"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def api(db):
    return {"X-API-Key": f.api_key()}


@pytest.fixture
def spec(client):
    return Spec(client)


def user_row(db, external_id):
    return db.session.execute(db.select(User).where(User.external_id == external_id)).scalar_one_or_none()


# ------------------------------------------------------------------------------------------ bulk identify


def test_bulk_identify_creates_and_updates_one_result_each(client, api, db, spec):
    client.post("/api/v1/users/old", json={"name": "Old", "attributes": {"plan": "free"}}, headers=api)
    body = {
        "users": [
            {"id": "u1", "name": "Ada", "email": "Ada@Example.com", "tz": "Europe/London", "attributes": {"city": "x"}},
            {"id": "old", "attributes": {"tier": "gold"}},
            {"id": 42},
            {"id": "u1", "name": "Ada L."},  # named twice: identified twice, in order
        ]
    }
    r = client.post(USERS, json=body, headers=api)
    results = spec.check(r, USERS, "post")["results"]
    assert r.status_code == 200 and [x["status"] for x in results] == [201, 200, 201, 200]
    assert results[0] | {"created_at": None} == {
        "status": 201,
        "id": "u1",
        "name": "Ada",
        "email": "ada@example.com",
        "tz": "Europe/London",
        "attributes": {"city": "x"},
        "sign_up_date": None,
        "subscribe_to_emails": True,
        "device_tokens": [],
        "created_at": None,
        "control": False,
    }
    assert results[0]["created_at"] == "2026-03-04T09:05:00+00:00"
    assert results[1]["attributes"] == {"plan": "free", "tier": "gold"}  # merged, as one by one
    assert results[2]["id"] == "42" and results[3]["name"] == "Ada L."
    assert user_row(db, "u1").display_name == "Ada L." and user_row(db, "42") is not None


def test_a_refused_player_sinks_nothing_else(client, api, db, spec):
    client.post("/api/v1/users/taken", json={"email": "taken@example.com"}, headers=api)
    body = {
        "users": [
            {"id": "a1", "name": "A"},
            {"id": "b1", "email": "taken@example.com"},  # created, then refused: its savepoint rolls back
            {"id": "c1", "tz": "+05:30"},
            {"id": "d1", "email": "not an address"},
            "e1",
            {"name": "no id"},
            {"id": "f1", "attributes": {"k": "x" * 501}},
            {"id": "g1", "name": 7},
            {"id": "h1"},
        ]
    }
    r = client.post(USERS, json=body, headers=api)
    results = spec.check(r, USERS, "post")["results"]
    assert [x["status"] for x in results] == [201, 400, 400, 400, 400, 400, 400, 400, 201]
    fields = [x["error"]["field"] for x in results if x["status"] == 400]
    assert fields == ["email", "tz", "email", "user", "id", "attributes.k", "name"]
    assert results[1]["error"]["message"] == "that email belongs to another user"
    assert results[5]["error"]["message"] == "id is required: the host app's id of the player"
    existing = set(db.session.execute(db.select(User.external_id)).scalars())
    assert existing == {"taken", "a1", "h1"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "users"),
        ({"users": []}, "users"),
        ({"users": {"id": "x"}}, "users"),
        ({"users": [{"id": "x"}] * 101}, "users"),
    ],
)
def test_a_bad_list_is_refused_whole(client, api, db, spec, body, field):
    r = client.post(USERS, json=body, headers=api)
    assert r.status_code == 400 and spec.check(r, USERS, "post")["error"]["field"] == field
    assert db.session.execute(db.select(db.func.count(User.id))).scalar() == 0


# ------------------------------------------------------------------------------------------ erasure


def referencing_columns(metadata):
    """Every column that can hold a users.id, found independently of the service: the foreign keys to
    users (from the metadata), and integer columns named *user_id without one."""
    users_id = metadata.tables["users"].c.id
    for table in metadata.sorted_tables:
        for column in table.columns:
            keyed = any(fk.column is users_id for fk in column.foreign_keys)
            if keyed or (column.name.endswith("user_id") and isinstance(column.type, Integer)):
                yield table, column


def references_to(db, user_id):
    out = {}
    for table, column in referencing_columns(db.metadata):
        n = db.session.execute(db.select(db.func.count()).select_from(table).where(column == user_id)).scalar()
        if n:
            out[f"{table.name}.{column.name}"] = n
    return out


@pytest.fixture
def world(client, api, db, app):
    """Two players, ann and bob, who touched every feature: events (streak, achievement, points, two
    leaderboards, one finalised run), energy (an action, a boost, gifts both ways), friends, notifications,
    preferences, webhooks delivered, e-mails, login links, reviews, progress."""
    m = f.metric("lessons")
    f.streak({m: 1})
    xp = f.system("xp", levels=[("bronze", "Bronze", 0), ("silver", "Silver", 30)])
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.achievement("first", "metric", metric_id=m.id, threshold=1)
    db.session.add(EnergyAction(key="duel", name="Duel", base_cost=10, metric_key="lessons", metric_value=1))
    db.session.add(
        EnergyBoost(key="fast", name="Fast", type="regen_speed", token_cost=0, effect_value=2, duration_minutes=60)
    )
    db.session.add(WebhookEndpoint(url="http://127.0.0.1:9/hook", secret="s", event_types=["achievement.completed"]))
    db.session.commit()
    for key, frequency in (("weekly", "weekly"), ("ever", "perpetual")):
        with time_machine.travel(NOW - timedelta(days=8), tick=False):
            boards.create(
                {
                    "key": key,
                    "name": key.title(),
                    "ranked_by": "metric",
                    "metric_id": m.id,
                    "system_id": None,
                    "frequency": frequency,
                    "start_date": date(2026, 2, 23) if frequency == "weekly" else None,
                    "participant_limit": 10,
                    "breakdown": ["city"],
                }
            )
    db.session.commit()
    last_week = NOW - timedelta(days=7)
    with time_machine.travel(last_week, tick=False):
        for who, value in (("ann", 5), ("bob", 2)):
            ev = {"user": {"id": who, "name": who.title(), "attributes": {"city": "paris"}}, "value": value}
            assert client.post("/api/v1/metrics/lessons/event", json=ev, headers=api).status_code == 201
    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        boards.finalise_due()  # last week's run: ann first, bob second
        db.session.commit()
    for who, value in (("ann", 9), ("bob", 3), ("ann", 1)):
        client.post("/api/v1/metrics/lessons/event", json={"user": {"id": who}, "value": value}, headers=api)
    assert client.post("/api/v1/actions/duel", json={"user_id": "ann"}, headers=api).status_code == 201
    assert client.post("/api/v1/users/ann/energy/boosts/fast", headers=api).status_code == 201
    client.post("/api/v1/users/ann/friends", json={"friend": "bob"}, headers=api)
    client.post("/api/v1/users/bob/friends/ann/accept", headers=api)
    client.post("/api/v1/users/cat", json={"name": "Cat"}, headers=api)
    client.post("/api/v1/users/cat/friends", json={"friend": "ann"}, headers=api)  # pending, to ann
    assert (
        client.post("/api/v1/users/ann/gifts", json={"recipient": "bob", "amount": 5}, headers=api).status_code == 201
    )
    assert (
        client.post("/api/v1/users/bob/gifts", json={"recipient": "ann", "amount": 7}, headers=api).status_code == 201
    )
    prefs = {"preferences": {"recap": {"email": False}}}
    client.patch("/api/v1/users/ann/notification-preferences", json=prefs, headers=api)
    client.post("/api/v1/users/ann", json={"device_tokens": ["ann-phone"]}, headers=api)
    today = client.get("/api/v1/users/ann/streak", headers=api).json["period_start"]
    client.post("/api/v1/users/ann/streak/pauses", json={"start": today, "end": today}, headers=api)
    ann, bob = user_row(db, "ann"), user_row(db, "bob")
    streaks.grant_freeze(ann.id, "support", 1)
    webhooks.dispatch_pending()
    first = db.session.execute(db.select(Achievement).where(Achievement.key == "first")).scalar_one()
    db.session.add_all(
        [
            EmailSend(user_id=ann.id, type="recap", period_start=date(2026, 3, 2), payload={"name": "Ann"}),
            UsedLoginLink(nonce="n" * 32, user_id=ann.id),
            NotificationDelivery(ref="email-1", type="recap", channel="email", status="sent", user_id=ann.id),
            EnergyReview(user_id=ann.id, reason="test", spent=300, allowed=200),
            AchievementProgress(user_id=ann.id, achievement_id=first.id, value=3.0),
            BackfillRun(achievement_id=first.id, created_by_id=ann.id, status="done"),
            StreakRestoration(user_id=ann.id, lost_period_start=date(2026, 2, 20), length=3, reason="support"),
            PlayerActivityDay(user_id=ann.id, day=date(2026, 3, 2)),
            PushSubscription(user_id=ann.id, endpoint="https://push.example/ann", p256dh="k", auth="a"),
        ]
    )
    db.session.commit()
    return {"ann": ann.id, "bob": bob.id}


def test_erasure_leaves_no_row_referencing_the_player(client, api, db, app, world, spec, monkeypatch):
    monkeypatch.setitem(app.config, "RQ_ASYNC", False)  # the requested rebuild runs at once, after the commit
    ann, bob = world["ann"], world["bob"]
    before = references_to(db, ann)
    everywhere = {f"{t.name}.{c.name}" for t, c in referencing_columns(db.metadata)}
    # The world touched every table that can name a player, so the check after the erasure means something
    # (a new table that references users needs a row here).
    assert set(before) == everywhere, everywhere - set(before)
    assert "domain_events.user_id" in before and "leaderboard_rank_changes.user_id" in before
    runs = db.session.execute(db.select(LeaderboardRun).where(LeaderboardRun.segment == "global")).scalars().all()
    assert [[(e["rank"], e["external_id"], e["name"]) for e in run.rankings] for run in runs] == [
        [(1, "ann", "Ann"), (2, "bob", "Bob")]
    ]
    ranking = client.get("/api/v1/leaderboards/ever", headers=api).json["rankings"]
    assert [(e["user_id"], e["score"]) for e in ranking] == [("ann", 16), ("bob", 5)]
    bob_energy = client.get("/api/v1/users/bob/energy", headers=api).json["current"]

    r = client.delete("/api/v1/users/ann", headers=api)
    body = spec.check(r, USER, "delete")
    assert r.status_code == 200 and body["id"] == "ann" and body["deleted"] is True
    assert body["rows"]["users"] == 1 and body["rows"]["metric_events"] == 4  # 3 events and the action's
    db.session.expire_all()
    assert references_to(db, ann) == {}
    assert db.session.get(User, ann) is None and db.session.get(User, bob) is not None
    # Leaderboards: Redis rebuilt after the commit (before anyone read), live rankings without her, the
    # archive anonymised with the ranks kept.
    assert not any(db.session.execute(db.select(Leaderboard.redis_dirty)).scalars())
    r = redis_roles.rankings_redis()  # the rankings' Redis (a cluster under GAMIFY_TEST_REDIS_CLUSTER=1)
    hashes = redis_roles.scan("lbm:*", client=r)
    assert hashes and all(r.hkeys(name) == [str(bob).encode()] for name in hashes), hashes
    assert all(r.zcard(name) == 1 for name in redis_roles.scan("lb:*", client=r))
    for key in ("ever", "weekly"):
        ranking = client.get(f"/api/v1/leaderboards/{key}", headers=api).json["rankings"]
        assert [(e["rank"], e["user_id"]) for e in ranking] == [(1, "bob")], key
    runs = db.session.execute(db.select(LeaderboardRun).where(LeaderboardRun.segment == "global")).scalars().all()
    assert [[(e["rank"], e["external_id"], e["name"]) for e in run.rankings] for run in runs] == [
        [(1, None, "(erased player)"), (2, "bob", "Bob")]
    ]
    assert "Ann" not in str([run.rankings for run in runs]) and ann not in [
        e["user_id"] for r_ in runs for e in r_.rankings
    ]
    # Others: bob's gift to her came back to him; the achievement counts one holder of one player.
    assert client.get("/api/v1/users/bob/energy", headers=api).json["current"] == bob_energy + 7
    refunds = db.session.execute(
        db.select(EnergyTransaction.amount).where(
            EnergyTransaction.user_id == bob, EnergyTransaction.type == "gift_refund"
        )
    ).scalars()
    assert list(refunds) == [7]
    first = db.session.execute(db.select(Achievement).where(Achievement.key == "first")).scalar_one()
    assert (first.completion_count, first.rarity_pct) == (1, 50.0)  # bob, of bob and cat
    assert client.get("/api/v1/users/bob/friends", headers=api).json["friends"] == []
    assert client.get("/api/v1/users/cat/friends", headers=api).json["outgoing"] == []
    assert db.session.execute(db.select(BackfillRun.created_by_id)).scalar_one() is None  # the run stays
    # The id is free: she is a new player on her next event.
    assert client.get("/api/v1/users/ann", headers=api).status_code == 404
    again = client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "ann"}}, headers=api)
    assert again.status_code == 201 and again.json["metric_total"] == 1


def test_a_dirty_board_is_rebuilt_on_the_next_read_when_the_job_has_not_run(client, api, db, app, world):
    assert client.delete("/api/v1/users/ann", headers=api).status_code == 200  # the rebuild job only queued
    assert db.session.execute(db.select(Leaderboard.redis_dirty).where(Leaderboard.key == "ever")).scalar() is True
    ranking = client.get("/api/v1/leaderboards/ever", headers=api).json["rankings"]
    assert [e["user_id"] for e in ranking] == ["bob"]


def test_erasure_is_one_transaction_the_caller_commits(app, db, world, monkeypatch):
    from gamify.services import erasure

    def no_commit():
        raise AssertionError("the erasure service committed")

    monkeypatch.setattr(_db.session, "commit", no_commit)
    before = references_to(db, world["ann"])
    erasure.erase(db.session.get(User, world["ann"]))
    monkeypatch.undo()
    db.session.rollback()
    assert references_to(db, world["ann"]) == before


def test_erase_auth_unknown_and_admins(client, api, db, spec):
    client.post("/api/v1/users/ann", json={}, headers=api)
    for headers in ({}, {"X-API-Key": "gk_wrong"}, {"Authorization": "Bearer nope"}):
        r = client.delete("/api/v1/users/ann", headers=headers)
        assert r.status_code == 401 and spec.check(r, USER, "delete")["error"]["field"] == "api_key"
    r = client.delete("/api/v1/users/nobody", headers=api)
    assert r.status_code == 404 and spec.check(r, USER, "delete")["error"]["field"] == "user_id"
    boss = f.admin()
    boss.external_id = "boss"
    db.session.commit()
    r = client.delete("/api/v1/users/boss", headers=api)
    assert r.status_code == 409 and spec.check(r, USER, "delete")["error"]["field"] == "user_id"
    assert user_row(db, "boss") is not None and user_row(db, "ann") is not None
    r = client.post(USERS, json={"users": [{"id": "x"}]}, headers={"X-API-Key": "gk_wrong"})
    assert r.status_code == 401 and user_row(db, "x") is None


# ------------------------------------------------------------------------------------------ admin form


def test_admin_erases_a_player_after_typing_their_id(client, api, db, world):
    admin = f.admin()
    f.login(client, admin.email)
    page = client.get(f"/admin/players/{world['ann']}").get_data(as_text=True)
    assert f'action="/admin/players/{world["ann"]}/delete"' in page and "data-confirm=" in page
    token = f.csrf_token(client, f"/admin/players/{world['ann']}")
    url = f"/admin/players/{world['ann']}/delete"
    assert client.post(url, data={"era-confirm": "ann"}).status_code == 400  # no CSRF token
    r = client.post(url, data={"era-confirm": "bob", "csrf_token": token})
    assert r.status_code == 400 and "That is not Ann&#39;s external id: nothing was erased." in r.get_data(as_text=True)
    assert db.session.get(User, world["ann"]) is not None
    r = client.post(url, data={"era-confirm": " ann ", "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/players")
    assert "Erased Ann (ann)" in client.get("/admin/players").get_data(as_text=True)
    db.session.expire_all()
    assert references_to(db, world["ann"]) == {}
    # An admin account is not erased from its page.
    r = client.post(f"/admin/players/{admin.id}/delete", data={"era-confirm": "x", "csrf_token": token})
    assert r.status_code == 400 and db.session.get(User, admin.id) is not None


def test_players_cannot_reach_the_erase_form(client, db):
    player = f.web_player()
    other = f.web_player(email="other@example.com")
    f.login(client, player.email)
    token = f.csrf_token(client, "/dashboard")
    r = client.post(f"/admin/players/{other.id}/delete", data={"era-confirm": other.external_id, "csrf_token": token})
    assert r.status_code in (302, 403, 404)
    assert db.session.get(User, other.id) is not None
