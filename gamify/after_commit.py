"""After commit: the one way to run work once the current transaction has committed.

Some work must only happen when the data it follows is committed, and never when it rolls back:
Redis rankings (they must never show uncommitted scores), enqueueing jobs (a worker must find the
rows), waking the outbox dispatcher. Code that needs this calls

    after_commit.defer(fn)               # run fn() right after this transaction commits
    after_commit.defer_redis(queue)      # Redis commands after the commit, in one shared pipeline
    after_commit.request(topic, *args)   # hand `topic` to the background workers after the commit

`request` names work by topic ("outbox", "leaderboards.fanout", "webhook.deliver", ...); the jobs
module registers what each topic does (`HANDLERS`, or `REDIS_HANDLERS` for a handler that only needs
Redis commands), so services never import jobs. Repeated requests of the same topic and arguments in
one transaction run once.

Redis steps (`defer_redis`, `REDIS_HANDLERS`) of one commit share one pipeline, so an event's
after-commit Redis work (its rankings, waking the dispatcher) costs one round trip: each step queues
its commands on the pipeline and returns `done(replies)`, called with its own commands' replies, or
with the RedisError if the pipeline failed.

The session class below runs the queue at the end of every successful `commit()`; a rollback drops
it. Every callable runs in isolation: its failure is logged and never reaches the caller, whose data
is already committed (SQL is the record; the scheduled jobs catch up on anything missed).
"""

from __future__ import annotations

import logging
from typing import Callable

from flask import current_app
from flask_sqlalchemy.session import Session as FlaskSession
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from .ops import telemetry
from .queue import get_redis, redis_failed, redis_resting

log = logging.getLogger(__name__)

_PENDING = "after_commit.pending"  # deferred in the open transaction
_READY = "after_commit.ready"  # its transaction committed; runs at the end of commit()

# topic -> fn(*args); registered by gamify.jobs.init_app (tests may swap them).
HANDLERS: dict[str, Callable[..., object]] = {}
# topic -> fn(pipe, *args) -> done(replies): a handler that joins the commit's shared Redis pipeline.
REDIS_HANDLERS: dict[str, Callable[..., Callable]] = {}


def _info() -> dict:
    # The app's SQLAlchemy by its extension key: extensions.py builds it with the Session class below,
    # so importing it here would be an import circle.
    return current_app.extensions["sqlalchemy"].session.info


def defer(fn: Callable[[], object]) -> None:
    """Run `fn()` once the current transaction has committed (never if it rolls back)."""
    _info().setdefault(_PENDING, []).append(fn)


def defer_redis(queue: Callable[[object], Callable[[object], object]]) -> None:
    """After the commit, `queue(pipe)` adds Redis commands to the commit's shared pipeline and returns
    `done(replies)` (its commands' replies in order, or the RedisError when the pipeline failed)."""
    _info().setdefault(_PENDING, []).append(_RedisStep(queue))


class _RedisStep:
    __slots__ = ("queue",)

    def __init__(self, queue):
        self.queue = queue

    def __repr__(self) -> str:
        return f"defer_redis({self.queue!r})"


def request(topic: str, *args) -> None:
    """Ask the workers for `topic` once this transaction has committed (deduplicated per transaction)."""
    pending = _info().setdefault(_PENDING, [])
    call = _Request(topic, args)
    if call not in pending:
        pending.append(call)


class _Request:
    __slots__ = ("topic", "args")

    def __init__(self, topic: str, args: tuple):
        self.topic, self.args = topic, args

    def __eq__(self, other) -> bool:
        return isinstance(other, _Request) and (self.topic, self.args) == (other.topic, other.args)

    def __hash__(self) -> int:
        return hash((self.topic, self.args))

    def __call__(self) -> None:
        handler = HANDLERS.get(self.topic)
        if handler is None:
            log.warning("after commit: nobody handles %r (args %r)", self.topic, self.args)
            return
        handler(*self.args)

    def __repr__(self) -> str:
        return f"request({self.topic!r}, *{self.args!r})"


def run(session: OrmSession) -> None:
    """Run what committed transactions left ready (called by Session.commit and at teardown): first the
    Redis steps, in one pipeline, then the rest in order. Topics that one handler serves with the same
    arguments run it once."""
    while True:
        ready = session.info.pop(_READY, None)
        if not ready:
            return
        seen, steps, rest = set(), [], []
        for fn in ready:
            if isinstance(fn, _Request):
                handled = (REDIS_HANDLERS.get(fn.topic) or HANDLERS.get(fn.topic), fn.args)
                if handled in seen:
                    continue
                seen.add(handled)
                if fn.topic in REDIS_HANDLERS:
                    steps.append(lambda pipe, fn=fn: REDIS_HANDLERS[fn.topic](pipe, *fn.args))
                    continue
            if isinstance(fn, _RedisStep):
                steps.append(fn.queue)
            else:
                rest.append(fn)
        if steps:
            _run_redis(steps)
        for fn in rest:
            _isolated(session, fn)


def _run_redis(steps: list) -> None:
    pipe = None
    if redis_resting():  # it timed out moments ago: do not wait for it again after every commit
        replies_if_down: object = RedisError("Redis was unreachable moments ago")
    else:
        replies_if_down = None
        try:
            pipe = get_redis().pipeline(transaction=False)
        except Exception as e:  # noqa: BLE001 - e.g. no Redis configured: every step hears of it
            replies_if_down = RedisError(str(e))
    queued = []
    for queue in steps:
        try:
            before = len(pipe) if pipe is not None else 0
            done = queue(pipe if pipe is not None else _NoPipe())
            queued.append((done, before, len(pipe) if pipe is not None else 0))
        except Exception:  # noqa: BLE001
            log.exception("after commit: Redis step %r failed to queue", queue)
    replies: object = replies_if_down
    if pipe is not None:
        try:
            replies = pipe.execute(raise_on_error=False) if len(pipe) else []
        except (RedisError, OSError) as e:  # OSError: a refused connection below redis-py's handling
            redis_failed(e)
            telemetry.after_commit_failed("redis")
            replies = e if isinstance(e, RedisError) else RedisError(str(e))
    for done, start, end in queued:
        if done is None:
            continue
        try:
            done(replies if isinstance(replies, Exception) else replies[start:end])
        except Exception:  # noqa: BLE001
            log.exception("after commit: Redis step %r failed", done)


class _NoPipe:
    """Stands in for the pipeline when Redis is unreachable: steps queue into nothing, and their done()
    hears of the error."""

    def __getattr__(self, _name):
        return lambda *_a, **_k: self

    def __len__(self) -> int:
        return 0


def _isolated(session: OrmSession, fn) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - the caller's data is committed; never fail it now
        log.exception("after commit: %r failed", fn)
        telemetry.after_commit_failed("step")
        try:
            session.rollback()
        except Exception:  # noqa: BLE001
            log.exception("after commit: rollback after a failed step failed too")


def pending_count() -> int:
    return len(_info().get(_PENDING, ()))


class Session(FlaskSession):
    """Flask-SQLAlchemy's session that runs after-commit work at the end of every commit."""

    def commit(self) -> None:
        super().commit()
        if self.info.get(_READY):
            run(self)

    def rollback(self) -> None:
        self.info.pop(_PENDING, None)  # also what was deferred outside a transaction since the last one
        super().rollback()


@event.listens_for(OrmSession, "after_commit")
def _committed(session: OrmSession) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.info.setdefault(_READY, []).extend(pending)


@event.listens_for(OrmSession, "after_transaction_end")
def _ended(session: OrmSession, transaction) -> None:
    # The outermost transaction ended: whatever is still pending was rolled back with it.
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_PENDING, None)


def init_app(app) -> None:
    @app.teardown_appcontext
    def _leftovers(_exc=None):
        # Ready work of a transaction committed outside Session.commit (e.g. `with session.begin()`).
        try:
            session = app.extensions["sqlalchemy"].session
            if session.info.get(_READY):
                run(session())
        except Exception:  # noqa: BLE001
            log.exception("after commit: teardown run failed")


class muted:
    """`with after_commit.muted("outbox"): ...` — requests of these topics are dropped meanwhile
    (e.g. the demo's generated history is not news: no webhooks or mails for it)."""

    def __init__(self, *topics: str):
        self.topics, self.saved = topics, []

    def __enter__(self):
        for registry in (HANDLERS, REDIS_HANDLERS):
            for t in self.topics:
                if t in registry:
                    self.saved.append((registry, t, registry.pop(t)))
        for t in self.topics:
            HANDLERS[t] = lambda *_args: None
        return self

    def __exit__(self, *_exc):
        for t in self.topics:
            HANDLERS.pop(t, None)
        for registry, t, fn in self.saved:
            registry[t] = fn
