"""Energy over the JSON API: actions (201 / 409 with nothing recorded), the energy endpoint, refills, tiers."""

import pytest
import time_machine

from gamify.models import EnergyAction, MetricEvent, PointsAward, User
from gamify.services import points
from tests import factories as f

NOW = f.utc(2026, 3, 2, 9, 5)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def headers(db):
    f.metric("duels", "Duels")
    db.session.add(
        EnergyAction(
            key="duel",
            name="Duel",
            base_cost=25,
            metric_key="duels",
            metric_value=1,
            difficulties={"easy": 0.8, "medium": 1.0, "hard": 1.3, "expert": 1.6},
            skill_reductions={"gun_fighting": 25},
        )
    )
    db.session.commit()
    return {"X-API-Key": f.api_key()}


def count(db, model):
    return db.session.execute(db.select(db.func.count(model.id))).scalar()


def test_action_spends_and_reports_energy(client, headers, db):
    r = client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}, "difficulty": "hard"}, headers=headers)
    assert r.status_code == 201, r.json
    assert r.json["energy"]["spent"] == 33 and r.json["energy"]["current"] == 117 and r.json["energy"]["max"] == 150
    assert r.json["metric"] == "duels" and r.json["metric_total"] == 1
    e = client.get("/api/v1/users/u1/energy", headers=headers).json
    assert e["current"] == 117 and e["max"] == 150 and e["fatigue"] == 6.6
    assert e["next_tick_at"] == "2026-03-02T09:12:00+00:00" and e["time_to_full"]
    assert e["regen_per_hour"] < 5  # fatigue slows regeneration


def test_skills_lower_the_cost(client, headers):
    client.post("/api/v1/users/u1", json={}, headers=headers)
    r = client.put("/api/v1/users/u1/energy/skills", json={"skills": {"gun_fighting": 80}}, headers=headers)
    assert r.status_code == 200 and r.json["skills"] == {"gun_fighting": 80}
    r = client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}}, headers=headers)
    assert r.json["energy"]["cost"] == 20
    bad = client.put("/api/v1/users/u1/energy/skills", json={"skills": {"gun_fighting": 101}}, headers=headers)
    assert bad.status_code == 400 and bad.json["error"]["field"] == "skills.gun_fighting"


def test_insufficient_energy_is_409_and_records_nothing(client, headers, db):
    client.post("/api/v1/users/u1", json={}, headers=headers)
    r = client.post("/api/v1/users/u1/energy/adjust", json={"amount": -140, "reason": "test"}, headers=headers)
    assert r.json["current"] == 10
    r = client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}}, headers=headers)
    assert r.status_code == 409
    err = r.json["error"]
    assert err["field"] == "energy" and err["required"] == 25 and err["available"] == 10
    assert err["seconds_until_enough"] == 7 * 60 + 14 * 12 * 60  # 09:05 -> 12:00
    assert "Not enough energy" in err["message"]
    assert count(db, MetricEvent) == 0
    assert client.get("/api/v1/users/u1/energy", headers=headers).json["current"] == 10


def test_unknown_user_action_with_no_energy_creates_no_user(client, headers, db):
    r = client.post("/api/v1/actions/nope", json={"user": {"id": "ghost"}}, headers=headers)
    assert r.status_code == 404 and r.json["error"]["field"] == "action"
    r = client.post("/api/v1/actions/duel", json={"user": {"id": "ghost"}, "difficulty": "insane"}, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == "difficulty"
    assert db.session.execute(db.select(User).where(User.external_id == "ghost")).scalar() is None


def test_metric_event_endpoint_with_an_action_option(client, headers, db):
    r = client.post(
        "/api/v1/metrics/duels/event",
        json={"user": {"id": "u1"}, "action": "duel", "difficulty": "easy"},
        headers=headers,
    )
    assert r.status_code == 201 and r.json["energy"]["spent"] == 20
    f.metric("lessons")
    db.session.commit()
    r = client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "u1"}, "action": "duel"}, headers=headers)
    assert r.status_code == 400 and "records metric 'duels'" in r.json["error"]["message"]
    assert count(db, MetricEvent) == 1


def test_idempotent_action_replay_spends_once(client, headers):
    body = {"user": {"id": "u1"}, "idempotency_key": "k1"}
    first = client.post("/api/v1/actions/duel", json=body, headers=headers)
    again = client.post("/api/v1/actions/duel", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 202)
    assert again.json["energy"] == {
        "action": "duel",
        "difficulty": "medium",
        "cost": 25,
        "spent": 0,
        "current": 125,
        "max": 150,
        "fatigue": 5.0,
    }
    assert client.get("/api/v1/users/u1/energy", headers=headers).json["current"] == 125


def test_refill_tier_and_transactions(client, headers, db):
    client.post("/api/v1/users/u1", json={}, headers=headers)
    u = db.session.execute(db.select(User).where(User.external_id == "u1")).scalar_one()
    points.award(u, f.system("gems", name="Gems"), 3, "admin", limits=False)
    db.session.commit()
    client.post("/api/v1/users/u1/energy/adjust", json={"amount": -100, "reason": "test"}, headers=headers)
    r = client.post("/api/v1/users/u1/energy/refill", json={"tokens": 2}, headers=headers)
    assert r.status_code == 200 and r.json == {
        "tokens_charged": 2,
        "energy_added": 20,
        "current": 70,
        "max": 150,
        "control": False,
    }
    r = client.post("/api/v1/users/u1/energy/refill", json={"tokens": 2}, headers=headers)
    assert r.status_code == 409 and r.json["error"]["field"] == "tokens"
    assert "Not enough Gems" in r.json["error"]["message"]
    assert client.post("/api/v1/users/u1/energy/refill", json={"tokens": "2"}, headers=headers).status_code == 400
    assert (
        db.session.execute(
            db.select(db.func.count(PointsAward.id)).where(PointsAward.trigger_type == "refill")
        ).scalar()
        == 1
    )
    r = client.put("/api/v1/users/u1/energy/tier", json={"premium": True}, headers=headers)
    assert r.json == {"premium": True, "current": 70, "max": 250, "control": False}
    tx = client.get("/api/v1/users/u1/energy/transactions", headers=headers).json
    assert [t["type"] for t in tx["transactions"]] == ["token_refill", "admin_adjust"]
    assert tx["transactions"][0]["metadata"]["tokens"] == 2


def test_resting_blocks_actions(client, headers):
    client.post("/api/v1/users/u1", json={}, headers=headers)
    r = client.post("/api/v1/users/u1/energy/rest", json={"minutes": 30, "reason": "hospital"}, headers=headers)
    assert r.status_code == 200 and r.json["resting"]
    r = client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}}, headers=headers)
    assert r.status_code == 409 and "resting (hospital)" in r.json["error"]["message"]
    client.post("/api/v1/users/u1/energy/rest", json={"minutes": 0}, headers=headers)
    assert client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}}, headers=headers).status_code == 201


def test_action_catalogue(client, headers):
    client.post("/api/v1/users/u1", json={}, headers=headers)
    client.put("/api/v1/users/u1/energy/skills", json={"skills": {"gun_fighting": 80}}, headers=headers)
    r = client.get("/api/v1/actions?user_id=u1", headers=headers)
    [a] = r.json["actions"]
    assert a["key"] == "duel" and a["costs"] == {"easy": 16, "medium": 20, "hard": 26, "expert": 32}
    assert client.get("/api/v1/actions", headers=headers).json["actions"][0]["costs"]["medium"] == 25
    assert client.get("/api/v1/users/u1/energy").status_code == 401


def test_the_action_an_event_names_is_checked_before_anything_is_recorded(client, headers, db):
    """Through the metric-event endpoint the event pipeline itself judges the action: an unknown key is a 404,
    a key that is not a string a 400, both naming the field; an empty key is no action at all."""
    url = "/api/v1/metrics/duels/event"
    r = client.post(url, json={"user": {"id": "u1"}, "action": "nope"}, headers=headers)
    assert r.status_code == 404, r.json
    assert r.json["error"]["field"] == "action" and r.json["error"]["message"] == "unknown action 'nope'"
    r = client.post(url, json={"user": {"id": "u1"}, "action": 7}, headers=headers)
    assert r.status_code == 400, r.json
    assert r.json["error"]["field"] == "action" and r.json["error"]["message"] == "action must be an action key"
    assert count(db, MetricEvent) == 0
    r = client.post(url, json={"user": {"id": "u1"}, "action": ""}, headers=headers)
    assert r.status_code == 201 and "energy" not in r.json
    assert count(db, MetricEvent) == 1
    f.metric("lessons")
    db.session.commit()
    r = client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "u1"}, "action": "duel"}, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == "action"
