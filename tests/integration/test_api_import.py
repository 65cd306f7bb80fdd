"""Importing a product's history: events with a stated past time (`occurred_at`) through POST /api/v1/events
and the single endpoint. Streaks, totals and points come out as if the events had been sent on their
days; a time in the future or before the player's latest recorded event is refused and records nothing."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from gamify.models import MetricEvent, MetricTotal, User
from gamify.models._common import utcnow
from tests import factories as f

TOKYO = ZoneInfo("Asia/Tokyo")  # UTC+9 all year: the local day differs from UTC's for 9 hours of it


def _setup(db):
    lessons = f.metric("lessons")
    f.streak({lessons: 1})
    xp = f.system("xp")
    f.trigger(xp, "metric", 10, metric_id=lessons.id, per_units=1)
    db.session.commit()
    return {"X-API-Key": f.api_key()}


def local_noon(days_ago: int) -> str:
    """Noon, Tokyo time, `days_ago` local days before today (as the product's export would write it)."""
    day = datetime.now(TOKYO).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(12), TOKYO).isoformat()


def post(client, headers, events):
    r = client.post("/api/v1/events", headers=headers, json={"events": events})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["results"]


def lesson(user, when, value=1, **kw):
    return {"metric": "lessons", "user": {"id": user, "tz": "Asia/Tokyo"}, "value": value, "occurred_at": when, **kw}


def test_a_history_import_gives_the_streak_totals_and_points_of_those_days(client, db):
    headers = _setup(db)
    # Six local days ago to yesterday, one day missed: a run of 3 (6, 5, 4 days ago), a gap, then a run
    # of 2 (2 days ago, yesterday). The streak is alive (today is not over): length 2, longest 3.
    values = {6: 1, 5: 2, 4: 1, 2: 3, 1: 1}
    res = post(client, headers, [lesson("ann", local_noon(d), v, idempotency_key=f"d{d}") for d, v in values.items()])
    assert [r["status"] for r in res] == [201] * 5
    assert [r["metric_total"] for r in res] == [1, 3, 4, 7, 8]

    streak = client.get("/api/v1/users/ann/streak", headers=headers).get_json()
    assert (streak["length"], streak["longest"]) == (2, 3)
    assert client.get("/api/v1/users/ann/points/xp", headers=headers).get_json()["total"] == 80  # 8 lessons x 10

    stored = db.session.query(MetricEvent).order_by(MetricEvent.id).all()
    today = datetime.now(TOKYO).date()
    assert [e.local_date for e in stored] == [today - timedelta(days=d) for d in values]
    assert stored[0].occurred_at == datetime.fromisoformat(local_noon(6))

    # The importer runs again (a retry): every event is a replay, although later ones are recorded now.
    again = post(client, headers, [lesson("ann", local_noon(d), v, idempotency_key=f"d{d}") for d, v in values.items()])
    assert [r["status"] for r in again] == [202] * 5
    assert db.session.query(MetricEvent).count() == 5


def test_an_event_before_the_players_latest_is_refused_with_409_and_records_nothing(client, db):
    headers = _setup(db)
    post(client, headers, [lesson("ann", local_noon(2)), lesson("ann", local_noon(1))])

    late = post(client, headers, [lesson("ann", local_noon(3), 5), lesson("bob", local_noon(3), 2)])
    assert late[0]["status"] == 409 and late[0]["error"]["field"] == "occurred_at"
    assert "before this player's latest recorded event" in late[0]["error"]["message"]
    assert late[1]["status"] == 201  # another player's history is independent
    total = db.session.query(MetricTotal).join(User).filter(User.external_id == "ann").one().total
    assert total == 2 and db.session.query(MetricEvent).count() == 3

    # Inside one batch too: the second event goes back in time against the first.
    res = post(client, headers, [lesson("cat", local_noon(1)), lesson("cat", local_noon(2))])
    assert [r["status"] for r in res] == [201, 409]
    # An event without a stated time is recorded now: a stated time after it is in the past of it.
    res = post(client, headers, [{"metric": "lessons", "user": {"id": "dan"}}, lesson("dan", local_noon(1))])
    assert [r["status"] for r in res] == [201, 409]
    # The single endpoint checks the same.
    body = {k: v for k, v in lesson("ann", local_noon(4)).items() if k != "metric"}
    r = client.post("/api/v1/metrics/lessons/event", headers=headers, json=body)
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "occurred_at"
    assert db.session.query(MetricEvent).count() == 5


def test_a_future_or_unzoned_time_is_refused_and_a_little_clock_skew_is_taken_as_now(client, db):
    headers = _setup(db)
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    res = post(
        client,
        headers,
        [
            lesson("ann", soon),
            lesson("ann", "2026-01-05T08:00:00"),  # no offset: whose 8 o'clock?
            {**lesson("ann", local_noon(1)), "action": "lesson"},  # energy is spent now, not in the past
        ],
    )
    assert [r["status"] for r in res] == [400, 400, 400]
    assert [r["error"]["field"] for r in res] == ["occurred_at"] * 3
    assert "in the future" in res[0]["error"]["message"] and "UTC offset" in res[1]["error"]["message"]
    assert db.session.query(MetricEvent).count() == 0 and db.session.query(User).count() == 0

    before = utcnow()
    r = client.post(
        "/api/v1/metrics/lessons/event",
        headers=headers,
        json={"user": {"id": "ann"}, "occurred_at": (before + timedelta(seconds=20)).isoformat()},
    )
    assert r.status_code == 201
    assert before <= db.session.query(MetricEvent).one().occurred_at <= utcnow()  # not stored in the future


def test_the_openapi_document_describes_occurred_at(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    prop = spec["components"]["schemas"]["BatchEvent"]["properties"]["occurred_at"]
    assert prop["anyOf"][0]["format"] == "date-time" and "oldest first" in prop["description"]
