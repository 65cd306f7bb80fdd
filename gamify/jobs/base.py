"""The ground every job stands on: the queues and their retries, app_job (an app context and a unit
of work per job, its log line and metrics), and enqueueing that never fails the caller (enqueue_unique, _safe).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import time
from typing import Callable, Optional

from flask import has_app_context
from redis.exceptions import RedisError
from rq import Retry, get_current_job
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from .. import create_app, uow
from ..ops import logs, telemetry
from ..queue import get_queue, get_redis, redis_failed, redis_resting

log = logging.getLogger(__package__)  # one logger for every job module: "gamify.jobs", as before the split


FANOUT_QUEUE = "events-fanout"
MAIL_QUEUE = "mail"
PUSH_QUEUE = "push"
# A push service that is down: 1 min, 5 min, 15 min (a reminder is worth little later; then e-mail).
PUSH_RETRY = (3, [60, 300, 900])
DEFAULT_QUEUE = "default"
# A mail server that is down loses nothing: 1 min, 5 min, 15 min, 1 h, 2 h.
MAIL_RETRY = (5, [60, 300, 900, 3600, 7200])
# Webhooks back off exponentially (x4): 30 s, 2 min, 8 min, 32 min, ~2 h, ~8.5 h.
WEBHOOK_RETRY = (6, [30, 120, 480, 1920, 7680, 30720])


def mail_retry() -> Retry:
    return Retry(max=MAIL_RETRY[0], interval=list(MAIL_RETRY[1]))


def webhook_retry() -> Retry:
    return Retry(max=WEBHOOK_RETRY[0], interval=list(WEBHOOK_RETRY[1]))


# ---------------------------------------------------------------------------------------------
# App context for jobs

_worker_app = None


def _app():
    global _worker_app
    if _worker_app is None:
        _worker_app = create_app({"GAMIFY_JOB_PROCESS": True})  # the job statement timeout
    return _worker_app


def app_job(fn: Callable) -> Callable:
    """Run `fn` inside an app context (the current one when there is one: the worker's, or the
    caller's with RQ_ASYNC=False) as a unit of work (gamify.uow): committed when it returns, rolled
    back if it raises. Its log lines carry the request id of the request that enqueued it (RQ meta),
    and it logs one line when it ends."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        job = get_current_job()
        rid = job.meta.get(logs.META_KEY) if job is not None else None
        token = logs.bind(rid or logs.current())
        try:
            if has_app_context():
                return _guarded(fn, args, kwargs, job)
            with _app().app_context():
                return _guarded(fn, args, kwargs, job)
        finally:
            logs.unbind(token)

    if fn.__module__.startswith(__package__ + "."):
        # RQ stores the job as module.name: gamify.jobs.<name> (re-exported there) is the name jobs queued
        # before the jobs were split by area carry, and it stays put when a job moves between modules.
        wrapper.__module__ = __package__
    return wrapper


def _guarded(fn, args, kwargs, job):
    name = fn.__name__
    started = time.perf_counter()
    try:
        result = fn(*args, **kwargs)
    except BaseException as e:
        uow.finish(ok=False)
        took = time.perf_counter() - started
        telemetry.job_ended(name, False, took)
        log.info(
            "job %s (%s) failed after %.0f ms: %s", name, job.id if job else "inline", took * 1000, type(e).__name__
        )
        raise
    uow.finish(ok=True)
    took = time.perf_counter() - started
    telemetry.job_ended(name, True, took)
    log.info("job %s (%s) done in %.0f ms", name, job.id if job else "inline", took * 1000)
    return result


# ---------------------------------------------------------------------------------------------
# Enqueueing


def enqueue_unique(
    func: Callable, *args, job_id: str, queue: str = DEFAULT_QUEUE, retry: Optional[Retry] = None, **options
) -> Optional[Job]:
    """Enqueue under a fixed job id unless a job with that id is still alive (queued, scheduled for a
    retry, running, deferred, or failed and waiting in the failed registry for an admin). A finished
    job of the same id is replaced. Returns None when skipped."""

    conn = get_redis()
    try:
        existing = Job.fetch(job_id, connection=conn)
    except NoSuchJobError:
        existing = None
    if existing is not None:
        status = existing.get_status(refresh=False)
        if status in (JobStatus.FINISHED, JobStatus.CANCELED, JobStatus.STOPPED, None):
            existing.delete()
        else:
            return None
    try:
        return get_queue(queue).enqueue(func, *args, job_id=job_id, retry=retry, unique=True, **options)
    except DuplicateJobError:
        return None


def _safe(what: str, fn, *args) -> bool:
    """Enqueue without ever failing the caller (e.g. a request after its commit) when Redis is down:
    the row stays pending and the scheduled dispatch picks it up."""

    if redis_resting():
        log.info("not enqueueing %s: Redis was unreachable moments ago", what)
        return False
    try:
        fn(*args)
        return True
    except (RedisError, OSError) as e:
        redis_failed(e)
        log.warning("could not enqueue %s: Redis unreachable (the scheduled dispatch retries): %s", what, e)
        return False
    except Exception:  # noqa: BLE001 - never break the caller (e.g. a request that already committed)
        log.exception("could not enqueue %s (the scheduled dispatch retries)", what)
        return False


def _optional(module: str, attr: str):
    """A job another feature provides, or None while that feature is not installed."""
    if importlib.util.find_spec(module) is None:
        return None
    return getattr(importlib.import_module(module), attr, None)
