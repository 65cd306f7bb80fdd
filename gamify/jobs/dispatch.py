"""The dispatcher (queue "events-fanout"): asked for after every commit that leaves work for it
(request_dispatch, dispatch_step: debounced with a Redis flag), it runs the rank fan-out, turns domain events
into webhook deliveries and e-mails, and re-enqueues anything due whose job is missing (dispatch_outbox).
"""

from __future__ import annotations

import logging

from flask import current_app

from ..extensions import db
from ..queue import get_queue, get_redis
from ..services import rank_fanout, reminders, webhooks
from .base import FANOUT_QUEUE, _safe, app_job
from .push import enqueue_deliveries
from .webhooks import enqueue_webhook_delivery

log = logging.getLogger(__package__)  # "gamify.jobs" (see base)


DISPATCH_FLAG = "gamify:dispatch:queued"


def request_dispatch(*_args) -> None:
    """Run the dispatcher soon, off the request (see dispatch_step; this is its stand-alone form)."""

    _safe("the outbox dispatch", lambda: _enqueue_dispatch(get_redis().set(DISPATCH_FLAG, "1", nx=True, ex=30)))


def dispatch_step(pipe, *_args):
    """after_commit topics "outbox" and "leaderboards.fanout" (a Redis step: it joins the commit's one
    pipeline). The dispatcher runs the rank fan-out and the outbox; it is debounced with a Redis flag (the
    job clears it when it starts), so a burst of commits queues one job, at the front of the queue (the
    others' rank changes wait for it). Never fails the caller: with Redis down the every-minute schedule
    catches up."""
    if not current_app.config.get("RQ_ASYNC", True):  # tests: the job runs inline, right away
        return lambda _replies: _safe("the outbox dispatch", lambda: _enqueue_dispatch(True))
    pipe.set(DISPATCH_FLAG, "1", nx=True, ex=30)

    def done(replies):
        if isinstance(replies, Exception) or isinstance(replies[0], Exception):
            log.warning("could not ask for the outbox dispatch (the schedule catches up): %s", replies)
        elif replies[0]:
            _safe("the outbox dispatch", lambda: _enqueue_dispatch(True))

    return done


def _enqueue_dispatch(flag_was_set) -> None:

    if not current_app.config.get("RQ_ASYNC", True):
        get_queue(FANOUT_QUEUE).enqueue(dispatch_outbox)
    elif flag_was_set:
        get_queue(FANOUT_QUEUE).enqueue(
            dispatch_outbox, job_timeout=300, result_ttl=60, failure_ttl=86400, at_front=True
        )


@app_job
def dispatch_outbox() -> dict:
    """The rank fan-out (others' rank changes from the committed score log), then domain events ->
    webhook deliveries and e-mails; then (re)enqueue anything due whose job is missing: delayed e-mails
    whose time has come, and rows left pending while Redis was down."""

    if current_app.config.get("RQ_ASYNC", True):
        try:
            get_redis().delete(DISPATCH_FLAG)  # commits from now on ask for another run
        except Exception:  # noqa: BLE001
            pass
    fanout = rank_fanout.run_all()
    result = webhooks.dispatch_pending()
    just_sent, just_delivered = set(result.emails), set(result.deliveries)
    emails = [i for i in reminders.due_ids() if i not in just_sent]
    stale = [i for i in webhooks.stale_delivery_ids() if i not in just_delivered]
    reminders.settle_uncertain()
    db.session.commit()
    enqueue_deliveries(emails)
    for delivery_id in stale:
        enqueue_webhook_delivery(delivery_id)
    return {
        "rank_changes": fanout["rank_changes"],
        "events": result.events,
        "deliveries": len(result.deliveries),
        "emails": len(result.emails),
        "requeued_emails": len(emails),
        "requeued_deliveries": len(stale),
    }
