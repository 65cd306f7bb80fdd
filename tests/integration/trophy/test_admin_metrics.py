"""Trophy's admin API, metrics and batch events, through the official SDK's admin client (`client.admin`)
over real HTTP, and plain HTTP for what the SDK would not send."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from trophy import BatchMetricEvent, BatchMetricEventUser, CreateMetricRequestItem, UpdateMetricRequestItem
from trophy.core.api_error import ApiError

from gamify.extensions import db as _db
from gamify.models import Metric, MetricEvent, MetricTotal, User
from tests import factories as f

from .conftest import wire


@pytest.fixture
def lessons(db):
    """The lessons metric's id (read before the commit: with SQLite, a test that reads afterwards holds the
    database while the live server waits)."""
    m = f.metric("lessons", name="Lessons", unit="lessons")
    f.streak({m: 1})
    metric_id = str(m.id)
    db.session.commit()
    return metric_id


def test_metrics_list_get_create_update_delete(sdk, admin_conforms, lessons, db):
    raw = sdk.admin.metrics.with_raw_response.create(
        request=[
            CreateMetricRequestItem(name="Invites sent", key="invites-sent", units="invites"),
            CreateMetricRequestItem(name="Revenue", key="revenue", unit_type="currency", units="USD"),
            CreateMetricRequestItem(name="Again", key="lessons"),  # the key is taken
            CreateMetricRequestItem(name="Bad", key="Bad Key"),
        ]
    )
    assert raw._response.status_code == 201
    body = admin_conforms(wire(raw), "post", "/metrics", 201)
    made = raw.data.created
    assert [(m.key, m.name, m.unit_type, m.units) for m in made] == [
        ("invites-sent", "Invites sent", "number", "invites")
    ]
    assert [(i.index, i.severity) for i in raw.data.issues] == [(1, "error"), (2, "error"), (3, "error")]
    assert "currency" in body["issues"][0]["message"]
    assert body["issues"][1]["message"] == "Another metric already uses this key."
    assert body["issues"][2]["message"].startswith("Use lowercase letters")

    invites = made[0].id
    assert sdk.admin.metrics.get(invites).key == "invites-sent"
    listed = sdk.admin.metrics.list(limit=10, skip=0)
    assert [m.key for m in listed] == ["lessons", "invites-sent"]  # by id
    assert [m.key for m in sdk.admin.metrics.list(limit=1, skip=1)] == ["invites-sent"]
    admin_conforms([m.dict(by_alias=True) for m in listed], "get", "/metrics")

    up = sdk.admin.metrics.update(
        request=[UpdateMetricRequestItem(id=invites, name="Invites", units="people"), UpdateMetricRequestItem(id="999")]
    )
    assert [(m.name, m.units, m.key) for m in up.updated] == [("Invites", "people", "invites-sent")]
    assert [(i.id, i.message) for i in up.issues] == [("999", "metric '999' not found")]

    # lessons is used by the streak: it stays, with the reason; invites goes.
    gone = sdk.admin.metrics.delete(ids=[invites, lessons])
    assert [d.id for d in gone.deleted] == [invites]
    assert gone.issues[0].id == lessons and "the streak requirements" in gone.issues[0].message
    _db.session.expire_all()
    assert {m.key for m in _db.session.query(Metric)} == {"lessons"}


def test_a_created_metric_takes_events_at_once(sdk, lessons):
    sdk.admin.metrics.create(request=[CreateMetricRequestItem(name="Quizzes", key="quizzes")])
    sent = sdk.metrics.event("quizzes", user={"id": "ann"}, value=2)
    assert sent.total == 2


def test_batch_events_record_everything_on_the_batch_path(sdk, admin_conforms, lessons, db):
    tokyo = ZoneInfo("Asia/Tokyo")
    today = datetime.now(tokyo).date()

    def noon(days_ago):
        return datetime.combine(today - timedelta(days=days_ago), time(12), tokyo).isoformat()

    # Three consecutive local days for ann, imported with gamify's occurredAt; one event for bob now.
    events = [
        BatchMetricEvent(
            key="lessons",
            user=BatchMetricEventUser(id="ann", tz="Asia/Tokyo", attributes={"city": "kyoto"}),
            value=v,
            idempotency_key=f"ann-{d}",
            occurredAt=noon(d),
        )
        for d, v in ((3, 1), (2, 2), (1, 4))
    ]
    events.append(BatchMetricEvent(key="lessons", user=BatchMetricEventUser(id="bob", name="Bob"), value=5))
    raw = sdk.admin.metrics.with_raw_response.batch_events(request=events)
    assert raw._response.status_code == 202 and raw.data.accepted == 4
    admin_conforms(wire(raw), "post", "/metrics/events", 202)

    assert sdk.users.streak("ann").length == 3  # three local days in a row, up to yesterday
    ann = _db.session.query(User).filter_by(external_id="ann").one()
    assert ann.attributes == {"city": "kyoto"} and ann.timezone == "Asia/Tokyo"
    assert _db.session.query(MetricTotal).filter_by(user_id=ann.id).one().total == 7
    assert sorted(e.local_date for e in _db.session.query(MetricEvent).filter_by(user_id=ann.id)) == [
        today - timedelta(days=d) for d in (3, 2, 1)
    ]
    _db.session.rollback()  # SQLite: let the live server write again

    # Sent again (a retry): the keyed events are replays, bob's unkeyed one is recorded again.
    assert sdk.admin.metrics.batch_events(request=events).accepted == 4
    assert _db.session.query(MetricEvent).count() == 5


def test_a_refused_event_refuses_the_whole_batch(sdk, admin_http, lessons, db):
    ok = {"key": "lessons", "user": {"id": "ann"}, "value": 1}
    for events, status, words in (
        ([ok, {**ok, "key": "nope"}], 404, "[1] unknown metric 'nope'"),
        ([ok, {**ok, "user": {"id": "bob", "tz": "+05:00"}}], 422, "[1] "),
        ([ok, {**ok, "value": "two"}], 400, "[1] value must be a number"),
        ([ok, {**ok, "value": -1}], 422, "[1] metric 'lessons' takes no negative values"),
        ([ok, {"key": "lessons", "value": 1}], 400, "[1] user is required"),
        ([ok, {**ok, "occurredAt": "2020-01-01T00:00:00Z"}], 422, "[1] occurredAt 2020-01-01T00:00:00Z is before"),
        ([], 400, "array"),
        ({"events": [ok]}, 400, "array"),
    ):
        r = admin_http("POST", "/metrics/events", json=events)
        assert r.status_code == status, (events, r.text)
        assert words in r.json()["error"], r.json()
    assert _db.session.query(MetricEvent).count() == 0 and _db.session.query(User).count() == 0
    _db.session.rollback()

    with pytest.raises(ApiError) as err:
        sdk.admin.metrics.batch_events(
            request=[BatchMetricEvent(key="nope", user=BatchMetricEventUser(id="a"), value=1)]
        )
    assert err.value.status_code == 404
    too_many = admin_http("POST", "/metrics/events", json=[ok] * 1001)
    assert too_many.status_code == 400 and "at most 1000" in too_many.json()["error"]


def test_admin_api_needs_a_key_and_answers_trophys_errors(admin_http, lessons):
    assert admin_http("GET", "/metrics", key=False).status_code == 401
    assert admin_http("GET", "/metrics", headers={"X-API-KEY": "gk_wrong"}, key=False).status_code == 401
    assert admin_http("GET", "/metrics/12345").status_code == 404
    assert admin_http("GET", "/metrics/12345").json() == {"error": "metric '12345' not found"}
    assert admin_http("GET", "/metrics?limit=0").status_code == 422
    assert admin_http("GET", "/metrics?limit=101").status_code == 422
    assert admin_http("DELETE", "/metrics").status_code == 422  # ids is required
    assert admin_http("POST", "/metrics", json={"name": "x"}).status_code == 422  # not an array
    assert admin_http("POST", "/metrics", json=[{"key": "k"}] * 101).status_code == 422
    r = admin_http("POST", "/metrics", json=[{"key": "k"}, "x"])
    assert r.status_code == 200 and [i["message"] for i in r.json()["issues"]] == [
        "name is required",
        "each item must be an object",
    ]


def test_odd_items_are_issues_never_server_errors(admin_http, lessons, db):
    system = f.system("xp")
    sid = str(system.id)
    db.session.commit()
    odd = [
        {},
        None,
        {"name": 5, "key": ["x"]},
        {"name": "x", "key": "k" * 200, "points": 10**14, "type": "metric", "rankBy": "metric"},
        {"name": "x", "start": "9999-12-31", "end": "9999-12-31", "multiplier": 2},
        {"name": "x", "start": "0001-01-01", "multiplier": 1e14},
        {"type": "time", "points": 1, "timeUnit": "days", "timeInterval": 10**9},
        {"type": "metric", "points": 1, "metricId": lessons, "metricThreshold": 10**14},
        {"id": "1", "name": None, "points": -5, "maxParticipants": 0, "runUnit": "day", "runInterval": 2},
    ]
    paths = ["/metrics", "/attributes", "/points", f"/points/{sid}/levels", f"/points/{sid}/boosts"]
    paths += [f"/points/{sid}/triggers", "/leaderboards", "/application-api-keys"]
    for path in paths:
        for method in ("POST", "PATCH"):
            r = admin_http(method, path, json=odd)
            assert r.status_code in (200, 201, 405), (method, path, r.status_code, r.text[:300])
            if r.status_code != 405:
                assert len(r.json()["issues"]) >= len(odd) - 2, (method, path, r.json())
