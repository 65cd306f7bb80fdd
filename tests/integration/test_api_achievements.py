"""Achievements over the JSON API (issue 15): a player's progress on every achievement (completed,
incomplete, locked; hidden ones masked as the page masks them; filtered by status) and one achievement's
details (rarity, completion count, a player's progress). Responses are checked against the generated
OpenAPI document."""

import pytest
import time_machine

from gamify.extensions import db as _db
from gamify.models import AchievementCompletion
from tests import factories as f
from tests.apispec import Spec

NOW = f.utc(2026, 3, 2, 9, 0)
PROGRESS = "/api/v1/users/{external_id}/achievements/progress"
DETAILS = "/api/v1/achievements/{key}"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db, client):
    m = f.metric("lessons", unit="lessons")
    f.streak({m: 1})
    a3 = f.achievement("lessons_3", "metric", metric_id=m.id, threshold=3, name="Three")
    f.achievement("lessons_10", "metric", metric_id=m.id, threshold=10, name="Ten", description="Ten lessons")
    secret = f.achievement("secret", "metric", metric_id=m.id, threshold=5, hidden=True, name="Secret")
    f.achievement("streak_7", "streak", streak_length=7, name="Week")
    f.achievement("manual", "api", name="Manual")
    f.achievement("combo", "composite", prerequisite_ids=[a3.id, secret.id], name="Combo")
    f.achievement("soon", "metric", status="locked", metric_id=m.id, threshold=1, name="Soon")
    f.achievement("draft", "metric", status="inactive", metric_id=m.id, threshold=1)
    f.achievement("retired", "metric", status="archived", metric_id=m.id, threshold=1)
    db.session.commit()
    headers = {"X-API-Key": f.api_key()}
    assert client.post("/api/v1/users/u2", json={}, headers=headers).status_code == 201
    r = client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "u1"}, "value": 4}, headers=headers)
    assert r.status_code == 201
    return headers


def _progress(client, headers, user="u1", **args):
    return client.get(f"/api/v1/users/{user}/achievements/progress", query_string=args, headers=headers)


def test_progress_lists_every_achievement_with_the_players_standing(client, world):
    spec = Spec(client)
    body = spec.check(_progress(client, world), PROGRESS, "get")
    assert body["user_id"] == "u1"
    items = {a["key"]: a for a in body["achievements"]}
    # the page's set: active and locked ones; not the one being set up, nor a retired one not held
    assert set(items) == {"lessons_3", "lessons_10", "secret", "streak_7", "manual", "combo", "soon"}
    # completed first, then incomplete by how close (combo 1/2, ten 4/10, week 1/7, the rest 0), then locked
    assert [a["key"] for a in body["achievements"]] == [
        "lessons_3",
        "combo",
        "lessons_10",
        "streak_7",
        "secret",  # ties by age; a hidden one's progress is not shown, nor does it move it up
        "manual",
        "soon",
    ]
    three = items["lessons_3"]
    assert three["status"] == "completed" and three["percent"] == 100.0
    assert three["current"] == 4.0 and three["target"] == 3.0 and three["unit"] == "lessons"
    assert three["completed_at"] == "2026-03-02T09:00:00+00:00" and three["backdated"] is False
    assert three["rarity_pct"] == 50.0 and three["completion_count"] == 1  # 1 of the 2 players
    ten = items["lessons_10"]
    assert (ten["status"], ten["current"], ten["target"], ten["percent"]) == ("incomplete", 4.0, 10.0, 40.0)
    assert ten["description"] == "Ten lessons" and ten["completed_at"] is None
    week = items["streak_7"]
    assert (week["current"], week["target"], week["percent"]) == (1.0, 7.0, 14.3)  # a 1-day streak of 7
    manual = items["manual"]
    assert (manual["current"], manual["target"], manual["percent"]) == (None, None, 0.0)  # nothing to measure
    combo = items["combo"]
    assert (combo["current"], combo["target"], combo["percent"]) == (1.0, 2.0, 50.0)
    # a hidden prerequisite not earned yet is named as the page names it
    assert combo["prerequisites"] == [
        {"key": "lessons_3", "name": "Three", "completed": True},
        {"key": "secret", "name": "???", "completed": False},
    ]
    assert items["soon"]["status"] == "locked"


def test_a_hidden_achievement_is_masked_until_earned(client, world):
    secret = next(a for a in _progress(client, world).json["achievements"] if a["key"] == "secret")
    assert secret["hidden"] is True and secret["name"] == "???" and secret["description"] == ""
    assert secret["badge"] == "❔" and secret["trigger"] is None and secret["unit"] is None
    assert (secret["current"], secret["target"], secret["percent"]) == (None, None, None)  # 4/5 would give it away
    client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "u1"}, "value": 1}, headers=world)
    secret = next(a for a in _progress(client, world).json["achievements"] if a["key"] == "secret")
    assert secret["name"] == "Secret" and secret["status"] == "completed" and secret["trigger"] == "metric"
    assert (secret["current"], secret["target"], secret["percent"]) == (5.0, 5.0, 100.0)


def test_progress_filtered_by_status(client, world):
    spec = Spec(client)
    keys = {}
    for status in ("completed", "incomplete", "locked"):
        body = spec.check(_progress(client, world, status=status), PROGRESS, "get")
        keys[status] = [a["key"] for a in body["achievements"]]
        assert {a["status"] for a in body["achievements"]} <= {status}
    assert keys == {
        "completed": ["lessons_3"],
        "incomplete": ["combo", "lessons_10", "streak_7", "secret", "manual"],
        "locked": ["soon"],
    }
    r = _progress(client, world, status="done")
    assert r.status_code == 400 and r.json["error"]["field"] == "status"
    spec.check(r, PROGRESS, "get")


def test_a_retired_achievement_the_player_holds_is_listed_as_completed(client, world, db):
    held = db.session.execute(db.select(AchievementCompletion).limit(1)).scalar_one()  # lessons_3 of u1
    held.achievement.status = "archived"
    db.session.commit()
    assert [a["key"] for a in _progress(client, world, status="completed").json["achievements"]] == ["lessons_3"]
    assert "lessons_3" not in [a["key"] for a in _progress(client, world, user="u2").json["achievements"]]


def test_each_player_sees_only_their_own_progress(client, world):
    items = {a["key"]: a for a in _progress(client, world, user="u2").json["achievements"]}
    assert items["lessons_3"]["status"] == "incomplete" and items["lessons_3"]["current"] == 0.0
    assert items["lessons_3"]["completed_at"] is None
    assert items["combo"]["prerequisites"][0] == {"key": "lessons_3", "name": "Three", "completed": False}


def test_progress_needs_a_key_and_a_known_player(client, world):
    spec = Spec(client)
    for headers in ({}, {"X-API-Key": "gk_wrong"}):
        r = _progress(client, headers)
        assert r.status_code == 401 and r.json["error"]["field"] == "api_key"
        spec.check(r, PROGRESS, "get")
    r = _progress(client, world, user="nobody")
    assert r.status_code == 404 and r.json["error"]["field"] == "user_id"
    spec.check(r, PROGRESS, "get")


def test_details_with_rarity_completion_count_and_a_players_progress(client, world):
    spec = Spec(client)
    body = spec.check(client.get("/api/v1/achievements/lessons_3", headers=world), DETAILS, "get")
    assert (body["key"], body["name"], body["state"], body["trigger"]) == ("lessons_3", "Three", "active", "metric")
    assert (body["rarity_pct"], body["completion_count"], body["players"]) == (50.0, 1, 2)
    assert body["target"] == 3.0 and body["progress"] is None
    r = client.get("/api/v1/achievements/lessons_3", query_string={"user_id": "u1"}, headers=world)
    mine = spec.check(r, DETAILS, "get")["progress"]
    assert mine["status"] == "completed" and mine["completed_at"] == "2026-03-02T09:00:00+00:00"
    r = client.get("/api/v1/achievements/lessons_3", query_string={"user_id": "u2"}, headers=world)
    theirs = r.json["progress"]
    assert (theirs["status"], theirs["current"], theirs["percent"], theirs["completed_at"]) == (
        "incomplete",
        0.0,
        0.0,
        None,
    )
    r = client.get("/api/v1/achievements/retired", headers=world)
    assert r.status_code == 200 and r.json["state"] == "archived"


def test_details_of_a_hidden_achievement_are_masked_unless_the_player_earned_it(client, world):
    for args in ({}, {"user_id": "u2"}, {"user_id": "u1"}):
        body = client.get("/api/v1/achievements/secret", query_string=args, headers=world).json
        assert body["name"] == "???" and body["description"] == "" and body["target"] is None, args
    client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "u1"}, "value": 1}, headers=world)
    body = client.get("/api/v1/achievements/secret", query_string={"user_id": "u1"}, headers=world).json
    assert body["name"] == "Secret" and body["target"] == 5.0 and body["progress"]["status"] == "completed"
    assert client.get("/api/v1/achievements/secret", headers=world).json["name"] == "???"


def test_details_refuses_unknown_achievements_players_and_keys(client, world):
    spec = Spec(client)
    for key in ("nope", "draft"):  # one being set up does not exist yet for the API
        r = client.get(f"/api/v1/achievements/{key}", headers=world)
        assert r.status_code == 404 and r.json["error"]["field"] == "key", key
        spec.check(r, DETAILS, "get")
    r = client.get("/api/v1/achievements/lessons_3", query_string={"user_id": "ghost"}, headers=world)
    assert r.status_code == 404 and r.json["error"]["field"] == "user_id"
    r = client.get("/api/v1/achievements/lessons_3", query_string={"user_id": "x" * 129}, headers=world)
    assert r.status_code == 400 and r.json["error"]["field"] == "user_id"
    r = client.get("/api/v1/achievements/lessons_3")
    assert r.status_code == 401
    spec.check(r, DETAILS, "get")
    assert _db.session.execute(_db.select(_db.func.count(AchievementCompletion.id))).scalar() == 1
