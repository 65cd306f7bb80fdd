"""After commit: the one way to run work once the current transaction has committed.

Some work must only happen when the data it follows is committed, and never when it rolls back:
Redis rankings (they must never show uncommitted scores), enqueueing jobs (a worker must find the
rows), waking the outbox dispatcher. Code that needs this calls

    after_commit.defer(fn)               # run fn() right after this transaction commits
    after_commit.request(topic, *args)   # hand `topic` to the background workers after the commit

`request` names work by topic ("outbox", "leaderboards.fanout", "webhook.deliver", ...); the jobs
module registers what each topic does (`HANDLERS`), so services never import jobs. Repeated requests
of the same topic and arguments in one transaction run once.

The session class below runs the queue at the end of every successful `commit()`; a rollback drops
it. Every callable runs in isolation: its failure is logged and never reaches the caller, whose data
is already committed (SQL is the record; the scheduled jobs catch up on anything missed).
"""
from __future__ import annotations

import logging
from typing import Callable

from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

log = logging.getLogger(__name__)

_PENDING = "after_commit.pending"  # deferred in the open transaction
_READY = "after_commit.ready"  # its transaction committed; runs at the end of commit()

# topic -> fn(*args); registered by gamify.jobs.init_app (tests may swap them).
HANDLERS: dict[str, Callable[..., object]] = {}


def _info() -> dict:
    from .extensions import db  # extensions builds its SQLAlchemy with the Session class below
    return db.session.info


def defer(fn: Callable[[], object]) -> None:
    """Run `fn()` once the current transaction has committed (never if it rolls back)."""
    _info().setdefault(_PENDING, []).append(fn)


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
    """Run what committed transactions left ready (called by Session.commit and at teardown). Topics
    that one handler serves with the same arguments run it once."""
    while True:
        ready = session.info.pop(_READY, None)
        if not ready:
            return
        seen = set()
        for fn in ready:
            if isinstance(fn, _Request):
                handled = (HANDLERS.get(fn.topic), fn.args)
                if handled in seen:
                    continue
                seen.add(handled)
            try:
                fn()
            except Exception:  # noqa: BLE001 - the caller's data is committed; never fail it now
                log.exception("after commit: %r failed", fn)
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
        from .extensions import db
        try:
            if db.session.info.get(_READY):
                run(db.session())
        except Exception:  # noqa: BLE001
            log.exception("after commit: teardown run failed")


class muted:
    """`with after_commit.muted("outbox"): ...` — requests of these topics are dropped meanwhile
    (e.g. the demo's generated history is not news: no webhooks or mails for it)."""

    def __init__(self, *topics: str):
        self.topics, self.saved = topics, {}

    def __enter__(self):
        for t in self.topics:
            self.saved[t] = HANDLERS.get(t)
            HANDLERS[t] = lambda *_args: None
        return self

    def __exit__(self, *_exc):
        for t, fn in self.saved.items():
            if fn is None:
                HANDLERS.pop(t, None)
            else:
                HANDLERS[t] = fn
