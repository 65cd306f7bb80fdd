"""POST /api/v1/events: many events in one request, each answered like the single endpoint."""

import threading

from gamify.extensions import db as _db
from gamify.models import MetricEvent, MetricTotal, User
from tests import factories as f


def _setup(db):
    f.metric("lessons")
    return {"X-API-Key": f.api_key()}


def post(client, headers, events):
    return client.post("/api/v1/events", headers=headers, json={"events": events})


def test_results_come_in_order_and_a_bad_event_sinks_nothing_else(client, db):
    headers = _setup(db)
    r = post(
        client,
        headers,
        [
            {"metric": "lessons", "user": {"id": "ann"}, "value": 2},
            {"metric": "nope", "user": {"id": "bob"}},  # unknown metric: bob is not created either
            {"metric": "lessons", "user": {"id": "cat"}, "value": "two"},
            {"metric": "lessons", "user": {"id": "ann"}, "value": 3, "tz": "+05:00"},
            "not an event",
            {"metric": "lessons", "user": {"id": "ann"}},
        ],
    )
    assert r.status_code == 200
    res = r.get_json()["results"]
    assert [x["status"] for x in res] == [201, 404, 400, 400, 400, 201]
    assert [x.get("error", {}).get("field") for x in res] == [None, "metric", "value", "tz", "event", None]
    assert res[0]["metric_total"] == 2 and res[5]["metric_total"] == 3  # the refused 3 never counted
    assert res[0]["event_id"] < res[5]["event_id"]
    assert db.session.query(MetricEvent).count() == 2
    assert {u.external_id for u in db.session.query(User)} == {"ann"}


def test_batch_shape_errors_name_the_field(client, db):
    headers = _setup(db)
    for body, status in (
        ({"events": []}, 400),
        ({"events": {"a": 1}}, 400),
        ({}, 400),
        ({"events": [{"metric": "lessons", "user": {"id": "a"}}] * 1001}, 400),
    ):
        r = client.post("/api/v1/events", headers=headers, json=body)
        assert r.status_code == status
        assert r.get_json()["error"]["field"] == "events"
    assert client.post("/api/v1/events", json={"events": [{}]}).status_code == 401
    assert db.session.query(MetricEvent).count() == 0


def test_idempotency_keys_inside_a_batch_and_across_batches(client, db):
    headers = _setup(db)
    first = post(
        client,
        headers,
        [
            {"metric": "lessons", "user": {"id": "ann"}, "value": 1, "idempotency_key": "k"},
            {"metric": "lessons", "user": {"id": "ann"}, "value": 1, "idempotency_key": "k"},  # same batch
            {"metric": "lessons", "user": {"id": "bob"}, "value": 1, "idempotency_key": "k"},  # another player
        ],
    ).get_json()["results"]
    assert [x["status"] for x in first] == [201, 202, 201]
    assert first[1]["idempotent_replayed"] and first[1]["event_id"] == first[0]["event_id"]
    again = post(
        client, headers, [{"metric": "lessons", "user": {"id": "ann"}, "value": 5, "idempotency_key": "k"}]
    ).get_json()["results"]
    assert again[0]["status"] == 202 and again[0]["event_id"] == first[0]["event_id"]
    assert again[0]["metric_total"] == 1
    assert db.session.query(MetricEvent).count() == 2


def test_overlapping_batches_never_deadlock_and_lose_nothing(app, client, db):
    """Concurrent batches naming the same players in opposite orders: players are locked in id order, so
    they queue instead of deadlocking, and every event is counted once."""
    headers = _setup(db)
    names = [f"p{i}" for i in range(8)]
    post(client, headers, [{"metric": "lessons", "user": {"id": n}, "value": 0} for n in names])
    db.session.commit()
    rounds, errors = 6, []
    start = threading.Barrier(4)

    def sender(order):
        with app.app_context():
            c = app.test_client()
            try:
                start.wait()
                for _ in range(rounds):
                    r = c.post(
                        "/api/v1/events",
                        headers=headers,
                        json={"events": [{"metric": "lessons", "user": {"id": n}, "value": 1} for n in order]},
                    )
                    statuses = (
                        {x["status"] for x in r.get_json()["results"]} if r.status_code == 200 else {r.status_code}
                    )
                    if statuses != {201}:
                        errors.append((r.status_code, r.get_data(as_text=True)[:300]))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(repr(e))
            finally:
                _db.session.remove()

    orders = [names, names[::-1], names[3:] + names[:3], names[::2] + names[1::2]]
    threads = [threading.Thread(target=sender, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    db.session.expire_all()
    totals = {t.user_id: t.total for t in db.session.query(MetricTotal)}
    assert sorted(totals.values()) == [len(orders) * rounds] * len(names)
