"""Points over the JSON API (issue 15): a player's award history (cursor pages, newest first), manual
awards and deductions (ledgered, idempotent by key), the daily summary over the player's local days, and
how many players hold each level. Responses are checked against the generated OpenAPI document."""

import threading

import pytest
import time_machine

from gamify.extensions import db as _db
from gamify.models import PointsAward, PointsBalance, PointsSystem, User
from gamify.params import MAX_INT
from gamify.services import points
from gamify.services import points_history as history
from tests import factories as f
from tests.apispec import Spec

NOW = f.utc(2026, 3, 2, 9, 0)
AWARDS = "/api/v1/users/{external_id}/points/{system_key}/awards"
DAILY = "/api/v1/users/{external_id}/points/{system_key}/daily"
LEVELS = "/api/v1/points/{system_key}/levels"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def headers(db, client):
    m = f.metric("lessons")
    xp = f.system("xp", levels=[("bronze", "Bronze", 10), ("silver", "Silver", 50), ("gold", "Gold", 100)])
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.boost(xp, 1.5)
    f.system("gems")
    db.session.commit()
    h = {"X-API-Key": f.api_key()}
    for uid, tz in (("u1", "America/New_York"), ("u2", "UTC")):
        assert client.post(f"/api/v1/users/{uid}", json={"tz": tz}, headers=h).status_code == 201
    return h


def _count(db, model=PointsAward) -> int:
    return db.session.execute(db.select(db.func.count()).select_from(model)).scalar()


def _award(client, headers, body, user="u1", system="xp", **extra):
    return client.post(f"/api/v1/users/{user}/points/{system}/awards", json=body, headers={**headers, **extra})


# ------------------------------------------------------------------------------------------ history


def test_history_shows_trigger_base_multiplier_and_source_event(client, headers):
    spec = Spec(client)
    event = client.post("/api/v1/metrics/lessons/event", json={"user_id": "u1"}, headers=headers).json
    _award(client, headers, {"amount": -5, "reason": "typo"})
    body = spec.check(client.get("/api/v1/users/u1/points/xp/awards", headers=headers), AWARDS, "get")
    assert body["user_id"] == "u1" and body["system"] == "xp"
    assert body["has_more"] is False and body["next_cursor"] is None
    manual, earned = body["awards"]  # newest first (same instant: the later one first)
    assert (earned["trigger"], earned["base_amount"], earned["multiplier"], earned["amount"]) == ("metric", 10, 1.5, 15)
    assert earned["source_event_id"] == event["event_id"] and earned["trigger_id"] is not None
    assert earned["awarded_at"] == "2026-03-02T09:00:00+00:00" and earned["local_date"] == "2026-03-02"
    assert (manual["trigger"], manual["amount"], manual["base_amount"], manual["multiplier"]) == ("admin", -5, -5, 1.0)
    assert manual["reason"] == "typo" and manual["source_event_id"] is None


def test_history_pages_by_cursor_newest_first_without_gaps_or_repeats(client, headers):
    spec = Spec(client)
    times = [f.utc(2026, 3, 1, h) for h in (8, 9, 9, 9, 10)]  # three awards in the same instant
    for i, at in enumerate(times, 1):
        with time_machine.travel(at, tick=False):
            _award(client, headers, {"amount": i, "reason": f"#{i}"})
    seen, cursor, pages = [], None, 0
    while True:
        args = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = client.get("/api/v1/users/u1/points/xp/awards", query_string=args, headers=headers)
        body = spec.check(r, AWARDS, "get")
        seen += [a["amount"] for a in body["awards"]]
        pages += 1
        cursor = body["next_cursor"]
        assert body["has_more"] is (cursor is not None)
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1] and pages == 3  # by time, then the later award first


def test_a_cursor_is_refused_on_another_players_or_systems_list(client, headers):
    spec = Spec(client)
    for i in range(3):
        _award(client, headers, {"amount": 1, "reason": f"r{i}"})
        _award(client, headers, {"amount": 1, "reason": f"r{i}"}, user="u2")
    cursor = client.get("/api/v1/users/u1/points/xp/awards?limit=1", headers=headers).json["next_cursor"]
    assert cursor
    for url in (
        "/api/v1/users/u2/points/xp/awards",  # another player's history
        "/api/v1/users/u1/points/gems/awards",  # another system's
    ):
        r = client.get(url, query_string={"cursor": cursor}, headers=headers)
        assert r.status_code == 400 and r.json["error"]["field"] == "cursor", url
        spec.check(r, AWARDS, "get")
    for bad in ("nonsense", cursor[:-2] + "xx", "W10"):
        r = client.get("/api/v1/users/u1/points/xp/awards", query_string={"cursor": bad}, headers=headers)
        assert r.status_code == 400 and r.json["error"]["field"] == "cursor", bad


def test_history_refuses_bad_limits_unknown_players_systems_and_missing_keys(client, headers):
    spec = Spec(client)
    for limit in ("0", "101", "ten", "-1"):
        r = client.get("/api/v1/users/u1/points/xp/awards", query_string={"limit": limit}, headers=headers)
        assert r.status_code == 400 and r.json["error"]["field"] == "limit", limit
        spec.check(r, AWARDS, "get")
    r = client.get("/api/v1/users/ghost/points/xp/awards", headers=headers)
    assert r.status_code == 404 and r.json["error"]["field"] == "user_id"
    r = client.get("/api/v1/users/u1/points/nope/awards", headers=headers)
    assert r.status_code == 404 and r.json["error"]["field"] == "system"
    spec.check(r, AWARDS, "get")
    for h in ({}, {"X-API-Key": "gk_wrong"}):
        r = client.get("/api/v1/users/u1/points/xp/awards", headers=h)
        assert r.status_code == 401 and r.json["error"]["field"] == "api_key"
        spec.check(r, AWARDS, "get")


# ------------------------------------------------------------------------------------------ manual awards


def test_manual_award_is_ledgered_without_boosts_and_changes_the_level(client, headers, db):
    spec = Spec(client)
    r = _award(client, headers, {"amount": 60, "reason": "Referred a friend"}, **{"Idempotency-Key": "ref-1"})
    body = spec.check(r, AWARDS, "post")
    assert r.status_code == 201 and body["idempotent_replayed"] is False
    award = body["award"]
    assert (award["amount"], award["base_amount"], award["multiplier"]) == (60, 60, 1.0)  # the x1.5 boost: not here
    assert award["trigger"] == "admin" and award["reason"] == "Referred a friend"
    assert award["idempotency_key"] == "ref-1"
    assert award["local_date"] == "2026-03-02"  # 04:00 in New York
    assert body["points"]["total"] == 60 and body["points"]["level"]["key"] == "silver"
    assert body["level_changed"] is True
    r = _award(client, headers, {"amount": -15, "reason": "refund"})
    assert r.status_code == 201 and r.json["points"]["total"] == 45 and r.json["level_changed"] is True  # bronze
    assert r.json["award"]["idempotency_key"] is None
    assert _count(db) == 2


def test_the_same_key_answers_the_first_award_again_and_refuses_a_different_one(client, headers, db):
    spec = Spec(client)
    first = _award(client, headers, {"amount": 20, "reason": "bonus", "idempotency_key": "k-1"})
    assert first.status_code == 201
    again = _award(client, headers, {"amount": 20, "reason": "bonus"}, **{"Idempotency-Key": "k-1"})
    body = spec.check(again, AWARDS, "post")
    assert again.status_code == 202 and body["idempotent_replayed"] is True
    assert body["award"] == first.json["award"] and body["points"]["total"] == 20
    for changed in ({"amount": 21, "reason": "bonus"}, {"amount": 20, "reason": "other"}):
        r = _award(client, headers, {**changed, "idempotency_key": "k-1"})
        assert r.status_code == 409 and r.json["error"]["field"] == "idempotency_key", changed
        spec.check(r, AWARDS, "post")
    # keys are per player and system: the same key elsewhere is a new award
    assert (
        _award(client, headers, {"amount": 20, "reason": "bonus", "idempotency_key": "k-1"}, user="u2").json[
            "idempotent_replayed"
        ]
        is False
    )
    assert (
        _award(client, headers, {"amount": 20, "reason": "bonus", "idempotency_key": "k-1"}, system="gems").json[
            "idempotent_replayed"
        ]
        is False
    )
    assert _count(db) == 3
    assert list(db.session.execute(db.select(PointsBalance.balance)).scalars()) == [20, 20, 20]


def test_a_deduction_never_takes_the_balance_below_zero_nor_past_the_largest(client, headers, db):
    spec = Spec(client)
    _award(client, headers, {"amount": 10, "reason": "start"})
    r = _award(client, headers, {"amount": -11, "reason": "too much", "idempotency_key": "d-1"})
    assert r.status_code == 409 and r.json["error"]["field"] == "amount" and "10" in r.json["error"]["message"]
    spec.check(r, AWARDS, "post")
    assert _award(client, headers, {"amount": -10, "reason": "all"}).json["points"]["total"] == 0
    assert _award(client, headers, {"amount": MAX_INT, "reason": "max"}).status_code == 201
    r = _award(client, headers, {"amount": 1, "reason": "one more"})
    assert r.status_code == 409 and r.json["error"]["field"] == "amount"
    assert _count(db) == 3  # the refused ones left nothing, nor their key
    assert db.session.execute(db.select(PointsAward).where(PointsAward.idempotency_key == "d-1")).first() is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"reason": "no amount"}, "amount"),
        ({"amount": 0, "reason": "zero"}, "amount"),
        ({"amount": "5", "reason": "text"}, "amount"),
        ({"amount": 1.5, "reason": "fraction"}, "amount"),
        ({"amount": MAX_INT + 1, "reason": "huge"}, "amount"),
        ({"amount": 5}, "reason"),
        ({"amount": 5, "reason": "  "}, "reason"),
        ({"amount": 5, "reason": "x" * 256}, "reason"),
        ({"amount": 5, "reason": "ok", "idempotency_key": "k" * 256}, "idempotency_key"),
        ({"amount": 5, "reason": "ok", "idempotency_key": 7}, "idempotency_key"),
    ],
)
def test_manual_award_bad_input_names_the_field_and_writes_nothing(client, headers, db, body, field):
    r = _award(client, headers, body)
    assert r.status_code == 400 and r.json["error"]["field"] == field, r.json
    Spec(client).check(r, AWARDS, "post")
    assert _count(db) == 0


def test_manual_award_refuses_a_bad_header_key_unknown_players_and_missing_api_keys(client, headers, db):
    spec = Spec(client)
    r = _award(client, headers, {"amount": 5, "reason": "ok"}, **{"Idempotency-Key": "k" * 256})
    assert r.status_code == 400 and r.json["error"]["field"] == "Idempotency-Key"
    players = _count(db, User)
    r = _award(client, headers, {"amount": 5, "reason": "ok"}, user="ghost")
    assert r.status_code == 404 and r.json["error"]["field"] == "user_id"
    assert _count(db, User) == players  # not created on first sight
    r = _award(client, headers, {"amount": 5, "reason": "ok"}, system="nope")
    assert r.status_code == 404 and r.json["error"]["field"] == "system"
    spec.check(r, AWARDS, "post")
    r = client.post("/api/v1/users/u1/points/xp/awards", json={"amount": 5, "reason": "ok"})
    assert r.status_code == 401
    spec.check(r, AWARDS, "post")
    assert _count(db) == 0


# ------------------------------------------------------------------------------------------ daily summary


def test_daily_summary_over_the_players_local_days(client, headers):
    spec = Spec(client)
    # u1 lives in New York (UTC-5 in February and early March)
    for at, amount in (
        (f.utc(2026, 2, 27, 12), 30),  # Feb 27
        (f.utc(2026, 2, 28, 3), 5),  # 22:00 on Feb 27 in New York
        (f.utc(2026, 2, 28, 12), 40),  # Feb 28
        (f.utc(2026, 2, 28, 13), -20),  # Feb 28
        (f.utc(2026, 3, 2, 6), 7),  # 01:00 on Mar 2
    ):
        with time_machine.travel(at, tick=False):
            assert _award(client, headers, {"amount": amount, "reason": "r"}).status_code == 201
    r = client.get("/api/v1/users/u1/points/xp/daily?from=2026-02-26&to=2026-03-01", headers=headers)
    body = spec.check(r, DAILY, "get")
    assert (body["from"], body["to"], body["tz"]) == ("2026-02-26", "2026-03-01", "America/New_York")
    assert body["days"] == [
        {"date": "2026-02-26", "earned": 0, "deducted": 0, "net": 0, "awards": 0, "balance": 0},
        {"date": "2026-02-27", "earned": 35, "deducted": 0, "net": 35, "awards": 2, "balance": 35},
        {"date": "2026-02-28", "earned": 40, "deducted": 20, "net": 20, "awards": 2, "balance": 55},
        {"date": "2026-03-01", "earned": 0, "deducted": 0, "net": 0, "awards": 0, "balance": 55},  # Mar 2's 7 later
    ]
    # by default the player's last 30 days, today (Mar 2 in New York) included
    body = client.get("/api/v1/users/u1/points/xp/daily", headers=headers).json
    assert (body["from"], body["to"], len(body["days"])) == ("2026-02-01", "2026-03-02", 30)
    assert body["days"][-1] == {"date": "2026-03-02", "earned": 7, "deducted": 0, "net": 7, "awards": 1, "balance": 62}
    body = client.get("/api/v1/users/u1/points/xp/daily?from=2026-01-01", headers=headers).json
    assert (body["from"], body["to"]) == ("2026-01-01", "2026-01-30")
    body = client.get("/api/v1/users/u1/points/xp/daily?to=2026-02-27", headers=headers).json
    assert (body["from"], body["to"], body["days"][-1]["balance"]) == ("2026-01-29", "2026-02-27", 35)
    # another player's days hold none of it
    other = client.get("/api/v1/users/u2/points/xp/daily?from=2026-02-27&to=2026-02-28", headers=headers).json
    assert [d["net"] for d in other["days"]] == [0, 0] and other["tz"] == "UTC"


@pytest.mark.parametrize(
    "args, field",
    [
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),  # 367 days
        ({"from": "2026-3-1"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-02-30"}, "from"),
    ],
)
def test_daily_summary_refuses_a_bad_or_unbounded_range(client, headers, args, field):
    r = client.get("/api/v1/users/u1/points/xp/daily", query_string=args, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == field, r.json
    Spec(client).check(r, DAILY, "get")


def test_daily_summary_takes_a_year_and_refuses_unknowns_and_missing_keys(client, headers):
    spec = Spec(client)
    r = client.get("/api/v1/users/u1/points/xp/daily?from=2025-01-01&to=2026-01-01", headers=headers)
    assert r.status_code == 200 and len(r.json["days"]) == 366
    for url, field in (
        ("/api/v1/users/ghost/points/xp/daily", "user_id"),
        ("/api/v1/users/u1/points/nope/daily", "system"),
    ):
        r = client.get(url, headers=headers)
        assert r.status_code == 404 and r.json["error"]["field"] == field
        spec.check(r, DAILY, "get")
    assert client.get("/api/v1/users/u1/points/xp/daily").status_code == 401


# ------------------------------------------------------------------------------------------ levels


def test_level_summary_counts_players_at_each_level(client, headers):
    spec = Spec(client)
    f.admin()  # not a player: not counted
    client.post("/api/v1/users/u3", json={}, headers=headers)
    _award(client, headers, {"amount": 60, "reason": "r"})  # silver
    _award(client, headers, {"amount": 10, "reason": "r"}, user="u2")  # bronze
    _award(client, headers, {"amount": 5, "reason": "r"}, user="u3")
    _award(client, headers, {"amount": -5, "reason": "r"}, user="u3")  # back to 0: below bronze
    body = spec.check(client.get("/api/v1/points/xp/levels", headers=headers), LEVELS, "get")
    assert (body["system"], body["players"], body["below_first_level"]) == ("xp", 3, 1)
    assert [(lv["key"], lv["threshold"], lv["players"], lv["share_pct"]) for lv in body["levels"]] == [
        ("bronze", 10, 1, 33.3),
        ("silver", 50, 1, 33.3),
        ("gold", 100, 0, 0.0),
    ]
    body = client.get("/api/v1/points/gems/levels", headers=headers).json
    assert body["levels"] == [] and body["below_first_level"] == 3
    r = client.get("/api/v1/points/nope/levels", headers=headers)
    assert r.status_code == 404 and r.json["error"]["field"] == "system"
    spec.check(r, LEVELS, "get")
    r = client.get("/api/v1/points/xp/levels", headers={"X-API-Key": "gk_wrong"})
    assert r.status_code == 401
    spec.check(r, LEVELS, "get")


def test_concurrent_requests_with_one_key_make_one_award(app, headers, db):
    """Six requests race with the same key: the player's row lock queues them, so one awards and the
    others answer it again (without the lock, two would insert and one fail on the unique key)."""
    uid = db.session.execute(db.select(User.id).where(User.external_id == "u1")).scalar_one()
    sid = points.system_by_key("xp").id
    db.session.commit()  # end our transaction: on SQLite it would hold the write lock
    start, replayed, errors = threading.Barrier(6), [], []

    def request():
        with app.app_context():
            try:
                start.wait()
                user, system = _db.session.get(User, uid), _db.session.get(PointsSystem, sid)
                done = history.manual_award(user, system, 10, "race", "same-key")
                _db.session.commit()
                replayed.append(done.replayed)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(repr(e))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=request) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(replayed) == [False, True, True, True, True, True]
    db.session.expire_all()
    assert _count(db) == 1 and points.balance_of(uid, sid) == 10
