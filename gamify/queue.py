"""Redis connection and RQ queues, configured from the app (REDIS_QUEUE_URL, falling back to REDIS_URL;
the other roles are in gamify.redis_roles)."""

from __future__ import annotations

import time
from typing import Optional

import redis
from flask import current_app, has_app_context
from rq import Queue

from .ops import logs

# The RQ queues (gamify.worker runs workers on them; docs in gamify/jobs/__init__.py). "push" is reserved for
# mobile push deliveries: no job uses it yet, a worker may listen on it already.
QUEUES = ("events-fanout", "mail", "push", "default")

_clients: dict[str, redis.Redis] = {}


def redis_url() -> str:
    """The queue role's Redis (RQ, the dispatch flag)."""
    return current_app.config.get("REDIS_QUEUE_URL") or current_app.config["REDIS_URL"]


def get_redis(url: Optional[str] = None) -> redis.Redis:
    """One pooled client per URL (short timeouts, so a Redis outage fails fast instead of hanging)."""
    url = url or redis_url()
    client = _clients.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)
        _clients[url] = client
    return client


class AppQueue(Queue):
    """RQ's queue; a job enqueued while a request or a job runs carries its request id (ops.logs)."""

    def create_job(self, *args, meta: Optional[dict] = None, **kwargs):
        carried = logs.meta_for_job()
        if carried:
            meta = {**carried, **(meta or {})}
        return super().create_job(*args, meta=meta, **kwargs)


def get_queue(name: str = "default") -> Queue:
    # RQ_ASYNC=False (tests) runs jobs inline, in the caller's app context.
    is_async = current_app.config.get("RQ_ASYNC", True) if has_app_context() else True
    return AppQueue(name, connection=get_redis(), is_async=is_async)


def enqueue(func, *args, queue: str = "default", **kwargs):
    """Enqueue `func` (a module-level function or its dotted path) on an RQ queue."""
    return get_queue(queue).enqueue(func, *args, **kwargs)


# After Redis timed out (an unreachable host: each attempt waits for the connect timeout), callers that
# can do without it (enqueueing after a commit, after-commit Redis steps) skip it for a while; the
# scheduled jobs catch up once Redis is back. A refused connection fails at once and needs no rest.
REDIS_BACKOFF_SECONDS = 15.0
_redis_down_until = 0.0


def redis_resting() -> bool:
    """True shortly after Redis timed out: optional Redis work should not wait for it again."""
    return time.monotonic() < _redis_down_until


def redis_failed(e: BaseException) -> None:
    """Note a failure; a timeout starts the rest period."""
    global _redis_down_until
    if isinstance(e, (redis.exceptions.TimeoutError, TimeoutError)):
        _redis_down_until = time.monotonic() + REDIS_BACKOFF_SECONDS


def reset_redis_backoff() -> None:
    global _redis_down_until
    _redis_down_until = 0.0
