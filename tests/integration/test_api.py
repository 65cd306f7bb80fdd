"""The host-app JSON API: auth, validation (4xx naming the field), idempotency."""

import threading

import pytest

from gamify.models import MetricEvent, PointsAward, User
from gamify.services import apikeys
from gamify.services.events import process_event
from tests import factories as f


@pytest.fixture
def setup(db):
    m = f.metric("lessons")
    f.streak({m: 1})
    xp = f.system("xp")
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.achievement("first", "metric", metric_id=m.id, threshold=1)
    db.session.commit()
    return {"Authorization": f"Bearer {f.api_key()}"}


def post_event(client, headers, body, key="lessons"):
    return client.post(f"/api/v1/metrics/{key}/event", json=body, headers=headers)


def test_event_creates_user_and_returns_one_response(client, setup):
    r = post_event(
        client, setup, {"user": {"id": "u-1", "tz": "Europe/Paris", "attributes": {"city": "paris"}}, "value": 2}
    )
    assert r.status_code == 201, r.json
    body = r.json
    assert body["metric_total"] == 2 and body["streak"]["length"] == 1 and body["streak"]["extended"]
    assert body["points"]["xp"] == {"added": 20, "total": 20}
    assert [a["key"] for a in body["achievements"]] == ["first"]
    assert body["idempotent_replayed"] is False
    user = client.get("/api/v1/users/u-1", headers=setup).json
    assert user["tz"] == "Europe/Paris" and user["attributes"] == {"city": "paris"}
    assert client.get("/api/v1/users/u-1/streak", headers=setup).json["length"] == 1
    assert client.get("/api/v1/users/u-1/points/xp", headers=setup).json["total"] == 20
    assert [a["key"] for a in client.get("/api/v1/users/u-1/achievements", headers=setup).json["achievements"]] == [
        "first"
    ]


def test_same_idempotency_key_20_times_awards_once(client, setup, db):
    bodies = [post_event(client, setup, {"user": {"id": "u"}, "value": 1, "idempotency_key": "k1"}) for _ in range(20)]
    assert [b.status_code for b in bodies] == [201] + [202] * 19
    assert all(b.json["event_id"] == bodies[0].json["event_id"] for b in bodies)
    assert all(b.json["idempotent_replayed"] for b in bodies[1:])
    assert bodies[-1].json["points"]["xp"] == {"added": 0, "total": 10}
    assert db.session.execute(db.select(db.func.count(MetricEvent.id))).scalar() == 1
    assert db.session.execute(db.select(db.func.count(PointsAward.id))).scalar() == 1
    # The header works too, and a different key is a different event.
    r = client.post(
        "/api/v1/metrics/lessons/event", json={"user": {"id": "u"}}, headers={**setup, "Idempotency-Key": "k2"}
    )
    assert r.status_code == 201 and r.json["metric_total"] == 2


def test_concurrent_same_idempotency_key_awards_once(app, setup, db):
    uid = f.player("conc").id
    db.session.commit()
    results, errors = [], []

    def worker():
        try:
            with app.app_context():
                user = db.session.get(User, uid)
                results.append(process_event("lessons", user, 1, idempotency_key="same"))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(not r["idempotent_replayed"] for r in results) == 1
    assert len({r["event_id"] for r in results}) == 1
    assert db.session.execute(db.select(db.func.count(PointsAward.id))).scalar() == 1


@pytest.mark.parametrize(
    "body,field,status",
    [
        ({"value": 1}, "user", 400),
        ({"user": {"id": ""}}, "user.id", 400),
        ({"user": {"id": 5.5}}, "user.id", 400),
        ({"user": {"id": "u"}, "value": "ten"}, "value", 400),
        ({"user": {"id": "u"}, "value": True}, "value", 400),
        ({"user": {"id": "u"}, "value": -1}, "value", 400),  # the metric does not accept negative values
        ({"user": {"id": "u"}, "tz": "+05:30"}, "tz", 400),
        ({"user": {"id": "u"}, "tz": "Mars/Olympus"}, "tz", 400),
        ({"user": {"id": "u"}, "tz": 5}, "tz", 400),
        ({"user": {"id": "u"}, "attributes": ["x"]}, "attributes", 400),
        ({"user": {"id": "u"}, "attributes": {"a": {"nested": 1}}}, "attributes.a", 400),
        ({"user": {"id": "u"}, "attributes": {f"k{i}": i for i in range(51)}}, "attributes", 400),
        ({"user": {"id": "u"}, "attributes": {"a": "x" * 501}}, "attributes.a", 400),
        ({"user": {"id": "u"}, "tz": "localtime"}, "tz", 400),  # the server's own zone, not a place
        ({"user": {"id": "u"}, "tz": "Factory"}, "tz", 400),
        ({"user": {"id": "u"}, "tz": "posixrules"}, "tz", 400),
        ({"user": {"id": "u"}, "idempotency_key": 7}, "idempotency_key", 400),
        ({"user": {"id": "u", "attributes": "x"}}, "user.attributes", 400),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(client, setup, db, body, field, status):
    r = post_event(client, setup, body)
    assert r.status_code == status and r.json["error"]["field"] == field, r.json
    assert db.session.execute(db.select(db.func.count(User.id))).scalar() == 0  # nothing left behind


def test_negative_values_only_where_the_metric_accepts_them(app, client, setup, db):
    from gamify.models import Metric

    f.admin()
    admin = app.test_client()
    f.login(admin, "admin@example.com")
    m = db.session.execute(db.select(Metric).where(Metric.key == "lessons")).scalar_one()
    assert post_event(client, setup, {"user": {"id": "u"}, "value": 3}).status_code == 201
    r = post_event(client, setup, {"user": {"id": "u"}, "value": -2})
    assert r.status_code == 400 and "negative" in r.json["error"]["message"]
    page = admin.get(f"/admin/metrics/{m.id}/edit").get_data(as_text=True)
    assert "Accept negative values" in page
    r = admin.post(
        f"/admin/metrics/{m.id}/edit",
        data={
            "key": "lessons",
            "name": "Lessons",
            "unit": "lessons",
            "allow_negative": "y",
            "csrf_token": f.csrf_token(admin, "/admin/metrics"),
        },
    )
    assert r.status_code == 302
    r = post_event(client, setup, {"user": {"id": "u"}, "value": -2})
    assert r.status_code == 201 and r.json["metric_total"] == 1


def test_unknown_metric_is_404_and_creates_nothing(client, setup, db):
    r = post_event(client, setup, {"user": {"id": "u"}}, key="nope")
    assert r.status_code == 404 and r.json["error"]["field"] == "metric"
    assert db.session.execute(db.select(db.func.count(User.id))).scalar() == 0


def test_non_json_body_and_missing_key(client, setup):
    r = client.post(
        "/api/v1/metrics/lessons/event", data="{not json", headers={**setup, "Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json["error"]["field"] == "body"
    assert client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "u"}}).status_code == 401
    assert (
        client.post(
            "/api/v1/metrics/lessons/event", json={"user": {"id": "u"}}, headers={"X-API-Key": "gk_wrong"}
        ).status_code
        == 401
    )


def test_identify_and_timezone_validation(client, setup):
    r = client.post(
        "/api/v1/users/abc", json={"name": "Ann", "tz": "Asia/Kolkata", "attributes": {"city": "pune"}}, headers=setup
    )
    assert r.status_code == 201 and r.json["tz"] == "Asia/Kolkata"
    r = client.post("/api/v1/users/abc", json={"tz": "UTC+5"}, headers=setup)
    assert r.status_code == 400 and r.json["error"]["field"] == "tz"
    assert client.post("/api/v1/users/abc", json={"attributes": {"tier": "pro"}}, headers=setup).status_code == 200
    assert client.get("/api/v1/users/abc", headers=setup).json["attributes"] == {"city": "pune", "tier": "pro"}
    assert client.get("/api/v1/users/nobody/streak", headers=setup).status_code == 404
    assert client.get("/api/v1/users/abc/points/nope", headers=setup).status_code == 404


def test_complete_api_achievement(client, setup, db):
    f.achievement("beta_tester", "api")
    db.session.commit()
    r = client.post("/api/v1/achievements/beta_tester/complete", json={"user": {"id": "u9"}}, headers=setup)
    assert r.status_code == 201 and r.json["completed"] is True
    r = client.post("/api/v1/achievements/beta_tester/complete", json={"user": {"id": "u9"}}, headers=setup)
    assert r.status_code == 202 and r.json["completed"] is False and r.json["idempotent_replayed"] is True
    r = client.post("/api/v1/achievements/first/complete", json={"user": {"id": "u9"}}, headers=setup)
    assert r.status_code == 409
    assert (
        client.post("/api/v1/achievements/zzz/complete", json={"user": {"id": "u9"}}, headers=setup).status_code == 404
    )


def test_a_revoked_key_is_refused_at_once(client, db):
    f.metric("lessons")
    key_row, secret = apikeys.create("host")
    db.session.commit()
    headers = {"X-API-Key": secret}
    assert client.post("/api/v1/metrics/lessons/event", headers=headers, json={"user": {"id": "u"}}).status_code == 201
    key_row.revoked_at = f.utc(2026, 1, 1)
    db.session.commit()
    r = client.post("/api/v1/metrics/lessons/event", headers=headers, json={"user": {"id": "u"}})
    assert r.status_code == 401 and r.get_json()["error"]["field"] == "api_key"


def _race(app, n, fn):
    """Run fn(i) in n threads released together, each with its own app context; returns the errors."""
    from gamify.extensions import db as _db

    start, errors = threading.Barrier(n), []

    def run(i):
        with app.app_context():
            try:
                start.wait()
                fn(i)
            except Exception as e:  # pragma: no cover - reported by the caller
                errors.append(repr(e))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_parallel_first_events_of_an_unseen_player_create_it_once(app, client, db):
    f.metric("lessons")
    headers = {"X-API-Key": f.api_key()}
    db.session.commit()
    statuses = []
    errors = _race(
        app,
        8,
        lambda i: statuses.append(
            app.test_client()
            .post("/api/v1/metrics/lessons/event", headers=headers, json={"user": {"id": "newcomer"}})
            .status_code
        ),
    )
    assert not errors and sorted(statuses) == [201] * 8
    db.session.expire_all()
    assert db.session.query(User).filter_by(external_id="newcomer").count() == 1
    assert db.session.query(MetricEvent).count() == 8


def test_parallel_identify_and_signup_race_without_errors(app, db):
    from gamify.services import users
    from gamify.services.users import UserError

    outcomes = []

    def identify(i):
        users.identify("same-id", name=f"n{i}")
        db.session.commit()

    def signup(i):
        try:
            users.signup("race@example.com", "correct horse", f"P{i}", "UTC")
            db.session.commit()
            outcomes.append("created")
        except UserError as e:
            db.session.rollback()
            outcomes.append(e.field)

    assert not _race(app, 6, identify)
    assert not _race(app, 4, signup)
    assert sorted(outcomes) == ["created"] + ["email"] * 3
    db.session.expire_all()
    assert db.session.query(User).filter_by(external_id="same-id").count() == 1
    assert db.session.query(User).filter_by(email="race@example.com").count() == 1


def test_a_host_app_cannot_take_the_id_of_the_next_signup(client, db):
    """Signups get random external ids: identifying "web-<n>" first blocks nobody."""
    from gamify.services import users

    for i in range(1, 5):
        users.identify(f"web-{i}")
    db.session.commit()
    u = users.signup("new@example.com", "correct horse", "New", "UTC")
    db.session.commit()
    assert u.external_id.startswith("web-") and len(u.external_id) > 20


def test_email_addresses_are_checked_where_they_enter(client, db):
    """One mailbox per player: a list of addresses or a header break is refused (4xx naming the field)
    on the event route, the batch route and identify; nothing is written."""
    f.metric("lessons")
    headers = {"X-API-Key": f.api_key()}
    for bad in ("victim@example.com, attacker@example.com", "x@example.com\r\nBcc: y@example.com", "nobody"):
        r = client.post("/api/v1/metrics/lessons/event", headers=headers, json={"user": {"id": "u1", "email": bad}})
        assert r.status_code == 400 and r.get_json()["error"]["field"] == "user.email", r.get_json()
        r = client.post("/api/v1/users/u2", headers=headers, json={"email": bad})
        assert r.status_code == 400 and r.get_json()["error"]["field"] == "email", r.get_json()
        r = client.post(
            "/api/v1/events",
            headers=headers,
            json={"events": [{"metric": "lessons", "user": {"id": "u3", "email": bad}}]},
        )
        assert r.get_json()["results"][0]["error"]["field"] == "user.email"
    assert db.session.query(User).count() == 0 and db.session.query(MetricEvent).count() == 0
    r = client.post(
        "/api/v1/metrics/lessons/event", headers=headers, json={"user": {"id": "u1", "email": "Pat@Example.com"}}
    )
    assert r.status_code == 201 and db.session.query(User).one().email == "pat@example.com"
