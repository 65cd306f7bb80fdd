"""GET /metrics: the bearer token guards it; the series named in gamify/ops/telemetry.py appear with the
right labels and values after requests, events, jobs and deliveries (this process's registry: no
PROMETHEUS_MULTIPROC_DIR in tests; test_ops_multiprocess.py covers gunicorn and RQ processes)."""

import time
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

from gamify import jobs, mail
from gamify.models import LeaderboardScoreLog
from gamify.queue import QUEUES, get_redis
from gamify.services import leaderboards as boards
from gamify.services import rank_fanout, webhooks
from gamify.services.events import process_event
from tests import factories as f
from tests.mailfixtures import free_port, http_receiver, smtp_server  # noqa: F401

TOKEN = "s3cret-scrape-token"


@pytest.fixture
def scrape(app, client, monkeypatch):
    """scrape() -> {(name, frozenset(labels)): value} read from GET /metrics with the token."""
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)

    def _scrape() -> dict:
        r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200, r.status_code
        out = {}
        for family in text_string_to_metric_families(r.get_data(as_text=True)):
            for s in family.samples:
                out[(s.name, frozenset(s.labels.items()))] = s.value
        return out

    return _scrape


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: dict, after: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_metrics_are_not_exposed_without_a_token(client):
    assert client.get("/metrics").status_code == 404


def test_a_wrong_or_missing_token_is_refused(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}, {"X-Token": TOKEN}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer"), headers
    r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.mimetype == "text/plain"


def test_request_latency_by_endpoint_and_status_class(client, scrape):
    before = scrape()
    for _ in range(3):
        client.get("/healthz")
    client.get("/no/such/page")
    after = scrape()
    assert (
        delta(before, after, "gamify_http_request_duration_seconds_count", endpoint="ops.healthz", status_class="2xx")
        == 3
    )
    assert (
        delta(before, after, "gamify_http_request_duration_seconds_count", endpoint="unmatched", status_class="4xx")
        == 1
    )
    # Every request lands in the +Inf bucket, and a health check takes well under 10 s.
    for le in ("10.0", "+Inf"):
        assert (
            delta(
                before,
                after,
                "gamify_http_request_duration_seconds_bucket",
                endpoint="ops.healthz",
                status_class="2xx",
                le=le,
            )
            == 3
        )


def test_events_by_metric_and_outcome_and_batch_sizes(client, db, scrape):
    f.metric("lessons")
    headers = {"X-API-Key": f.api_key()}
    before = scrape()
    one = "/api/v1/metrics/lessons/event"
    assert client.post(one, headers=headers, json={"user": {"id": "u1"}}).status_code == 201
    keyed = {"user": {"id": "u1"}, "idempotency_key": "k1"}
    assert client.post(one, headers=headers, json=keyed).status_code == 201
    assert client.post(one, headers=headers, json=keyed).status_code == 202  # replayed
    assert client.post(one, headers=headers, json={"user": {"id": "u1"}, "value": -1}).status_code == 400
    assert client.post("/api/v1/metrics/typo/event", headers=headers, json={"user": {"id": "u1"}}).status_code == 404
    batch = [
        {"metric": "lessons", "user": {"id": "u2"}},
        {"metric": "lessons", "user": {"id": "u3"}},
        {"metric": "nope", "user": {"id": "u3"}},
    ]
    assert client.post("/api/v1/events", headers=headers, json={"events": batch}).status_code in (200, 207)
    after = scrape()
    assert delta(before, after, "gamify_events_total", metric="lessons", outcome="created") == 4
    assert delta(before, after, "gamify_events_total", metric="lessons", outcome="replayed") == 1
    assert delta(before, after, "gamify_events_total", metric="lessons", outcome="refused") == 1
    assert delta(before, after, "gamify_events_total", metric="unknown", outcome="refused") == 2
    # Six single events and one batch of three.
    assert delta(before, after, "gamify_event_batch_size_count") == 6
    assert delta(before, after, "gamify_event_batch_size_sum") == 8
    assert delta(before, after, "gamify_event_batch_size_bucket", le="2.0") == 5
    assert delta(before, after, "gamify_event_batch_size_bucket", le="5.0") == 6


def test_a_refused_transaction_counts_no_created_event(db, scrape):
    f.metric("lessons")
    user = f.player("u1")
    db.session.commit()
    before = scrape()
    process_event("lessons", user, 1, commit=False)
    db.session.rollback()  # the caller gave up: nothing was recorded
    after = scrape()
    assert delta(before, after, "gamify_events_total", metric="lessons", outcome="created") == 0


def exploding():
    raise RuntimeError("boom")


def test_jobs_and_their_failures(db, scrape):
    before = scrape()
    jobs.prune_logs()
    with pytest.raises(RuntimeError):
        jobs.app_job(exploding)()
    after = scrape()
    assert delta(before, after, "gamify_jobs_total", job="prune_logs", outcome="ok") == 1
    assert delta(before, after, "gamify_jobs_total", job="exploding", outcome="failed") == 1
    assert delta(before, after, "gamify_job_failures_total", job="exploding") == 1
    assert delta(before, after, "gamify_job_failures_total", job="prune_logs") == 0
    assert delta(before, after, "gamify_job_duration_seconds_count", job="prune_logs") == 1


def test_queue_depths_are_read_from_redis(db, scrape):
    conn = get_redis()
    for _ in range(2):
        Queue("mail", connection=conn).enqueue(jobs.prune_logs)
    Queue("events-fanout", connection=conn).enqueue(jobs.prune_logs)
    now = scrape()
    assert {q: value(now, "gamify_queue_depth", queue=q) for q in QUEUES} == {
        "events-fanout": 1,
        "mail": 2,
        "push": 0,
        "default": 0,
    }
    assert value(now, "gamify_queue_failed_jobs", queue="mail") == 0


def test_webhook_and_email_deliveries_by_outcome(app, db, scrape, http_receiver, smtp_server):
    http_receiver.statuses = [500, 200]
    before = scrape()
    assert not webhooks.post(http_receiver.url, "s", "{}", "t", 1, allow_private=True).ok
    assert webhooks.post(http_receiver.url, "s", "{}", "t", 1, allow_private=True).ok
    refused = webhooks.post(http_receiver.url, "s", "{}", "t", 1, allow_private=False)  # loopback: never
    assert refused.final
    message = mail.build("a@example.com", "Hi", "notification", _mail_context(), unsubscribe_url="http://x/u")
    mail.send(message)
    app.config["MAIL_PORT"] = free_port()  # nobody listens there
    with pytest.raises(OSError):
        mail.send(mail.build("a@example.com", "Hi", "notification", _mail_context(), unsubscribe_url="http://x/u"))
    after = scrape()
    assert delta(before, after, "gamify_deliveries_total", channel="webhook", outcome="failed") == 1
    assert delta(before, after, "gamify_deliveries_total", channel="webhook", outcome="delivered") == 1
    assert delta(before, after, "gamify_deliveries_total", channel="webhook", outcome="refused") == 1
    assert delta(before, after, "gamify_deliveries_total", channel="email", outcome="sent") == 1
    assert delta(before, after, "gamify_deliveries_total", channel="email", outcome="failed") == 1


def _mail_context() -> dict:
    return {"text_body": "Start again: http://x/l", "type_label": "Come-back messages"}


def _board(metric_id: int):
    board = boards.create(
        {
            "key": "lessons",
            "name": "Lessons",
            "ranked_by": "metric",
            "metric_id": metric_id,
            "frequency": "perpetual",
            "participant_limit": 10,
        }
    )
    return board


def test_leaderboard_rebuilds_are_counted(db, scrape):
    board = _board(f.metric("lessons").id)
    db.session.commit()
    before = scrape()
    boards.rebuild(board)
    db.session.commit()
    after = scrape()
    assert delta(before, after, "gamify_leaderboard_rebuilds_total") == 1


def test_rank_change_lag_from_the_score_change_to_the_fan_out(db, scrape):
    board = _board(f.metric("lessons").id)
    db.session.commit()
    boards.rebuild(board)
    db.session.commit()
    one, two = f.player("p1"), f.player("p2")
    db.session.commit()
    t0 = datetime(2026, 5, 4, 12, 0, 0, tzinfo=timezone.utc)
    with time_machine.travel(t0, tick=False):
        process_event("lessons", one, 1)
        process_event("lessons", two, 2)  # overtakes p1
    logged = db.session.query(LeaderboardScoreLog).count()
    assert logged == 2
    before = scrape()
    with time_machine.travel(t0 + timedelta(seconds=7), tick=False):
        rank_fanout.run_all()
    after = scrape()
    # Both changes waited 7 s: inside the 10 s bucket, not the 5 s one.
    assert delta(before, after, "gamify_rank_change_lag_seconds_count") == 2
    assert delta(before, after, "gamify_rank_change_lag_seconds_sum") == pytest.approx(14, abs=0.01)
    assert delta(before, after, "gamify_rank_change_lag_seconds_bucket", le="5.0") == 0
    assert delta(before, after, "gamify_rank_change_lag_seconds_bucket", le="10.0") == 2


def test_after_commit_redis_failures_are_counted(db, scrape, redis_server):
    m = f.metric("lessons")
    f.achievement("first", "metric", metric_id=m.id, threshold=1)  # its unlock asks for the dispatcher
    user = f.player("u1")
    db.session.commit()
    before = scrape()
    redis_server["stop"]()
    try:
        process_event("lessons", user, 1)  # committed; its after-commit Redis pipeline fails
    finally:
        redis_server["start"]()
    time.sleep(0.05)
    after = scrape()
    assert delta(before, after, "gamify_after_commit_failures_total", kind="redis") == 1
