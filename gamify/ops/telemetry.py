"""Prometheus series for operators, and `GET /metrics` to scrape them.

Each series is recorded at one choke point (the functions below say which); nothing else in the code
knows about Prometheus. Series (all prefixed `gamify_`):

- `http_request_duration_seconds{endpoint,status_class}`: every request (the app's after_request).
- `events_total{metric,outcome}` (created / replayed / refused) and `event_batch_size`: the pipeline's
  result (pipeline.core.process_batch; created and replayed counted once their transaction committed).
- `jobs_total{job,outcome}`, `job_failures_total{job}`, `job_duration_seconds{job}`: jobs.app_job.
- `deliveries_total{channel,outcome}`: each webhook HTTP attempt (services.webhooks.post: delivered,
  failed, refused) and each SMTP submission (mail.send: sent, failed, unknown); channel "push" reserved.
- `leaderboard_rebuilds_total`: boards whose Redis copy was rebuilt from SQL (leaderboards store.rebuild).
- `rank_change_lag_seconds`: from a score change's commit to its rank fan-out (services.rank_fanout).
- `after_commit_failures_total{kind}`: after-commit Redis pipelines and steps that failed (after_commit).
- `queue_depth{queue}`, `queue_failed_jobs{queue}`, `queue_scheduled_jobs{queue}`: read from Redis at scrape.

Under gunicorn and RQ (several processes), prometheus-client's multiprocess mode: PROMETHEUS_MULTIPROC_DIR
names a directory (one per host, shared by the web and worker processes there, emptied when the host
boots) where each process keeps its values; a scrape of any web process sums them. RQ runs every job in
a forked "work horse"; each horse writes under its worker's name (`as_work_horse`) instead of its own
pid, so the directory holds a few files per worker process rather than a few per job run. Without the
variable (tests, `make run`) the values live in this process's registry.

`/metrics` answers only with the bearer token METRICS_TOKEN (404 when unset: not exposed at all; 401
for a wrong token)."""

from __future__ import annotations

import hmac
import logging
import os
import time
from typing import Iterable, Optional

from flask import Flask, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from ..queue import QUEUES, get_redis
from . import bp

log = logging.getLogger(__name__)

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")

_identity: Optional[str] = None


def _process_identity():
    return _identity or os.getpid()


def as_work_horse(worker_pid: int) -> None:
    """In an RQ work horse: write into the files of the worker that forked us. Horses of one worker
    run one at a time, and each reopens the files from disk when it starts (the identity changed)."""
    global _identity
    _identity = f"rqhorse{worker_pid}"


if MULTIPROC_DIR:
    # A missing directory would fail every request that records a value (tmpfiles.d makes it at boot).
    os.makedirs(MULTIPROC_DIR, exist_ok=True)
    # Chosen before any series below is made: values then live in the shared directory.
    values.ValueClass = values.MultiProcessValue(process_identifier=_process_identity)

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_DURATION = Histogram(
    "gamify_http_request_duration_seconds",
    "Time to answer a request, by endpoint (the Flask view) and status class",
    ["endpoint", "status_class"],
    buckets=SECONDS,
)
EVENTS = Counter("gamify_events_total", "Metric events by metric and outcome", ["metric", "outcome"])
BATCH_SIZE = Histogram(
    "gamify_event_batch_size",
    "Events per batch the pipeline ran (a single event is a batch of one)",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
JOBS = Counter("gamify_jobs_total", "Jobs run, by job and outcome (ok, failed)", ["job", "outcome"])
JOB_FAILURES = Counter("gamify_job_failures_total", "Jobs that raised (RQ retries them when set to)", ["job"])
JOB_DURATION = Histogram(
    "gamify_job_duration_seconds", "Time a job ran", ["job"], buckets=(*SECONDS, 60.0, 120.0, 300.0, 600.0)
)
DELIVERIES = Counter(
    "gamify_deliveries_total",
    "Delivery attempts by channel (webhook, email; push reserved) and outcome",
    ["channel", "outcome"],
)
REBUILDS = Counter("gamify_leaderboard_rebuilds_total", "Boards whose Redis copy was rebuilt from SQL")
RANK_LAG = Histogram(
    "gamify_rank_change_lag_seconds",
    "From a score change's commit to the rank fan-out that processed it",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0),
)
AFTER_COMMIT_FAILURES = Counter(
    "gamify_after_commit_failures_total",
    "After-commit work that failed (the scheduled jobs catch up): redis (the shared pipeline), step",
    ["kind"],
)

# ------------------------------------------------------------------------------------------ recording


def events_done(counts: dict[tuple[str, str], int]) -> None:
    """(metric key, outcome) -> how many."""
    for (metric, outcome), n in counts.items():
        EVENTS.labels(metric, outcome).inc(n)


def batch_ran(size: int) -> None:
    BATCH_SIZE.observe(size)


def job_ended(job: str, ok: bool, seconds: float) -> None:
    JOBS.labels(job, "ok" if ok else "failed").inc()
    if not ok:
        JOB_FAILURES.labels(job).inc()
    JOB_DURATION.labels(job).observe(seconds)


def delivered(channel: str, outcome: str) -> None:
    DELIVERIES.labels(channel, outcome).inc()


def leaderboards_rebuilt(n: int) -> None:
    if n:
        REBUILDS.inc(n)


def rank_changes_lagged(lags: Iterable[float]) -> None:
    for seconds in lags:
        RANK_LAG.observe(max(0.0, seconds))


def after_commit_failed(kind: str) -> None:
    AFTER_COMMIT_FAILURES.labels(kind).inc()


# ------------------------------------------------------------------------------------------ requests


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_clock():
        request.environ["gamify.started"] = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = request.environ.get("gamify.started")
        if started is not None:
            endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
            HTTP_DURATION.labels(endpoint, f"{response.status_code // 100}xx").observe(time.perf_counter() - started)
        return response


# ------------------------------------------------------------------------------------------ scraping


class _QueueCollector:
    """RQ's queues as gauges, read from Redis when scraped (nothing to keep in sync between processes)."""

    def collect(self):
        depth = GaugeMetricFamily("gamify_queue_depth", "Jobs waiting in an RQ queue", labels=["queue"])
        failed = GaugeMetricFamily("gamify_queue_failed_jobs", "Jobs in a queue's failed registry", labels=["queue"])
        scheduled = GaugeMetricFamily(
            "gamify_queue_scheduled_jobs", "Jobs waiting for their time (retries, delayed)", labels=["queue"]
        )
        conn = get_redis()
        try:
            for name in QUEUES:
                q = Queue(name, connection=conn)
                depth.add_metric([name], q.count)
                failed.add_metric([name], FailedJobRegistry(queue=q).count)
                scheduled.add_metric([name], ScheduledJobRegistry(queue=q).count)
        except Exception as e:  # noqa: BLE001 - a scrape without queue gauges beats no scrape
            log.warning("metrics: queue depths unavailable (%s: %s)", type(e).__name__, e)
            return
        yield from (depth, failed, scheduled)


def render() -> bytes:
    """The exposition text: this process's values (or every process's, in multiprocess mode), then the
    queue gauges."""
    if MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    queues = CollectorRegistry()
    queues.register(_QueueCollector())
    return generate_latest(registry) + generate_latest(queues)


@bp.get("/metrics")
def scrape():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return Response("unauthorized\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain")
    return Response(render(), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
