"""Every RQ job, and the recurring schedule.

Jobs run on RQ workers (`python -m gamify.worker`). Each job gets an app context (the worker's, or one
it creates), commits its own work and rolls back on failure. The queues (gamify.queue.QUEUES):

- "events-fanout": the dispatcher (`dispatch_outbox`: others' rank changes, then domain events into
  webhook deliveries and e-mails), asked for after every commit that leaves work for it. Its own queue so
  that rank changes never wait behind a webhook or backfill burst.
- "mail": every e-mail (`deliver_email`): a slow mail server never delays the rest, nor the other way.
- "default": webhook deliveries, the recurring jobs, leaderboard rebuilds, backfills.
- "push": Web Push and mobile push deliveries (`deliver_push`): a slow push service never delays mail.

The schedule uses RQ's own cron (`rq.cron.CronScheduler`), run by `python -m gamify.worker` in a child
process or on its own (`--cron-only`). Several may run: a Redis lock makes one of them (the leader)
enqueue; the others take over within CRON_LEADER_TTL + CRON_TICK seconds of its death. Every recurring
job is idempotent anyway (tests/integration/test_jobs_idempotent.py runs each twice). Retries (RQ `Retry`,
with intervals) need the worker's RQ scheduler (`--with-scheduler`, on by default in gamify.worker).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Optional

from flask import current_app, has_app_context
from redis.exceptions import RedisError
from rq import Retry, get_current_job
from rq.cron import CronScheduler
from rq.exceptions import DuplicateJobError, NoSuchJobError, StopRequested
from rq.job import Job, JobStatus
from rq.scripts import acquire_or_refresh_lock, release_lock
from rq.utils import now

from . import after_commit, create_app, i18n, links, mail, uow
from .extensions import db
from .models import User, UserStreak
from .models._common import utcnow
from .models.users import UsedLoginLink
from .models.webhooks import EmailSend, WebhookDelivery
from .ops import logs, telemetry
from .queue import get_queue, get_redis, redis_failed, redis_resting
from .services import (
    analytics_rollups,
    backfill,
    deliveries,
    leaderboards,
    mobile_push,
    points,
    push_delivery,
    rank_fanout,
    reminders,
    streaks,
    webhooks,
    webpush,
)
from .services.notification_templates import Rendered

log = logging.getLogger(__name__)

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


def enqueue_email(send_id: int) -> bool:
    return _safe(
        f"email {send_id}",
        lambda: enqueue_unique(
            deliver_email,
            send_id,
            job_id=f"gamify-email-{send_id}",
            queue=MAIL_QUEUE,
            retry=mail_retry(),
            job_timeout=120,
            failure_ttl=int(timedelta(days=30).total_seconds()),
        ),
    )


def enqueue_push(send_id: int) -> bool:
    return _safe(
        f"push {send_id}",
        lambda: enqueue_unique(
            deliver_push,
            send_id,
            job_id=f"gamify-push-{send_id}",
            queue=PUSH_QUEUE,
            retry=Retry(max=PUSH_RETRY[0], interval=list(PUSH_RETRY[1])),
            job_timeout=120,
            failure_ttl=int(timedelta(days=7).total_seconds()),
        ),
    )


def enqueue_deliveries(send_ids: list[int]) -> None:
    """A player's notification rows: by push first where the player has it (push_delivery.push_route: the
    push job falls back to the e-mail), by e-mail otherwise."""
    if not send_ids:
        return
    try:
        pushed = push_delivery.push_route(list(send_ids))
        db.session.rollback()  # read only: no transaction left open while enqueueing
    except Exception:  # noqa: BLE001 - never break the caller: by e-mail, as before push existed
        log.exception("could not choose push or e-mail; sending e-mails")
        db.session.rollback()
        pushed = set()
    for send_id in send_ids:
        (enqueue_push if send_id in pushed else enqueue_email)(send_id)


def enqueue_delivery(send_id: int) -> bool:
    enqueue_deliveries([send_id])
    return True


def enqueue_webhook_delivery(delivery_id: int) -> bool:
    return _safe(
        f"webhook delivery {delivery_id}",
        lambda: enqueue_unique(
            deliver_webhook,
            delivery_id,
            job_id=f"gamify-webhook-{delivery_id}",
            queue=DEFAULT_QUEUE,
            retry=webhook_retry(),
            job_timeout=60,
            failure_ttl=int(timedelta(days=30).total_seconds()),
        ),
    )


def enqueue_test_email(to: str, subject: str, text: str, html: str, type_label: str, locale: str = "en") -> bool:
    """An admin's "send me a test" (after_commit topic "email.test"): the same message twice in a row
    (a double click) is queued once. `locale`: the version's language (the frame's words)."""
    digest = hashlib.sha256("\x00".join((to, subject, text, html)).encode()).hexdigest()[:32]
    return _safe(
        "a test e-mail",
        lambda: enqueue_unique(
            send_test_email,
            to,
            subject,
            text,
            html,
            type_label,
            locale,
            job_id=f"gamify-email-test-{digest}",
            queue=MAIL_QUEUE,
            retry=mail_retry(),
            job_timeout=120,
            result_ttl=300,
        ),
    )


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


def request_rebuild() -> None:
    """after_commit topic "leaderboards.rebuild": restore boards whose Redis copy is missing."""
    _safe("leaderboard rebuild", lambda: enqueue_unique(rebuild_leaderboards, job_id="leaderboards-rebuild"))


def init_app(app) -> None:
    """Say what each after-commit topic does (services request topics; they never import this module)."""

    after_commit.HANDLERS.update(
        {
            "leaderboards.rebuild": request_rebuild,
            "webhook.deliver": enqueue_webhook_delivery,
            "email.send": enqueue_delivery,
            "email.test": enqueue_test_email,
        }
    )
    # The dispatcher runs the rank fan-out first (its rank changes are outbox events too).
    after_commit.REDIS_HANDLERS.update({"outbox": dispatch_step, "leaderboards.fanout": dispatch_step})


# ---------------------------------------------------------------------------------------------
# Jobs: delivery


@app_job
def deliver_email(send_id: int, at=None) -> str:
    """Send one ledger row over SMTP (queue "mail"). Raises on SMTP failure so RQ retries; the row is
    marked sent only after the server accepted the message.

    Exactly once: the Message-ID is recorded with the row, and the row becomes 'submitting' (committed)
    just before the message goes out. A row in 'submitting' is never claimed again: if the worker dies
    between the server accepting the message and 'sent' being recorded, or the connection drops
    while the server answers, the row ends 'unknown' (shown to admins, who may resend it with the
    same Message-ID) instead of being sent a second time.

    `at`: the moment to send as (the demo's replayed week); the queue never passes it."""

    now = at or utcnow()
    if not reminders.claim(send_id, now):
        db.session.rollback()
        return "not claimable (already sent, skipped, or being sent)"
    db.session.commit()
    send = db.session.get(EmailSend, send_id)
    if send.send_after and send.send_after > now:
        reminders.release(send)
        db.session.commit()
        return "not due yet"
    try:
        try:
            composed = reminders.compose(send, now)
        except reminders.Skip as skip:
            reminders.mark_skipped(send, skip, now)
            db.session.commit()
            return f"{skip.status}: {skip.reason}"
        if send.message_id:  # an admin's resend of an uncertain attempt: the same message, the same id
            del composed.message["Message-ID"]
            composed.message["Message-ID"] = send.message_id
        else:
            send.message_id = composed.message["Message-ID"]
        db.session.commit()  # compose may settle a streak; never hold a transaction during SMTP

        def submitting() -> None:
            reminders.mark_submitting(db.session.get(EmailSend, send_id), at or utcnow())
            db.session.commit()

        message_id = mail.send(composed.message, on_submit=submitting)
    except mail.OutcomeUnknown as e:
        db.session.rollback()
        reminders.mark_unknown(db.session.get(EmailSend, send_id), str(e))
        db.session.commit()
        return f"outcome unknown (not retried): {e}"
    except Exception as e:
        # Never leave the row claimed: 'failed' rows are retried (by RQ, or by the scheduled dispatch
        # when the job is gone) and shown to admins with the error.
        db.session.rollback()
        send = db.session.get(EmailSend, send_id)
        reminders.mark_failed(send, f"{type(e).__name__}: {e}", at or utcnow())
        db.session.commit()
        raise
    send = db.session.get(EmailSend, send_id)
    reminders.mark_sent(send, message_id, at or utcnow(), composed.template_id, composed.fallback)
    db.session.commit()
    return f"sent to {composed.to}"


@app_job
def deliver_push(send_id: int, at=None) -> str:
    """Deliver one notification row by Web Push and to the player's app devices (queue "push"), once:
    the delivery log's row 'push-<id>' is the idempotency key (a row there means the push was tried and
    settled). Checked at send time like the e-mail (still wanted, preferences, quiet hours). Nothing
    took it (no browser or device, or every one answered gone and was deleted): the e-mail goes
    instead. Other failures raise, so RQ retries; after the last retry the e-mail goes instead."""
    now = at or utcnow()
    send = db.session.get(EmailSend, send_id)
    if send is None or send.status not in ("pending", "failed"):
        return "not pending"
    if send.send_after and send.send_after > now:  # e.g. a come-back step: the dispatcher brings it back
        return "not due yet"
    if deliveries.find(deliveries.push_ref(send_id)) is not None:
        return "push already settled"
    try:
        composed = push_delivery.compose_push(send, now)
    except reminders.Skip as skip:
        if skip.reason == push_delivery.NO_BROWSER:
            push_delivery.mark_push_fell_back(send, now)
            db.session.commit()
            enqueue_email(send_id)
            return "no browser: by e-mail"
        reminders.mark_skipped(send, skip, now)
        db.session.commit()
        return f"{skip.status}: {skip.reason}"
    quiet_end = webpush.quiet_until(now, composed.timezone)
    if quiet_end is not None:
        if send.expires_at is not None and quiet_end >= send.expires_at:
            reminders.mark_skipped(send, reminders.Skip("quiet hours last past its moment", "expired"), now)
            db.session.commit()
            return "expired in quiet hours"
        send.send_after = quiet_end  # the dispatcher picks it up again when they end
        db.session.commit()
        return f"held until {quiet_end.isoformat()} (quiet hours)"
    db.session.commit()  # never hold a transaction during HTTP
    topic = send.type.replace("_", "-")
    outcome = webpush.send(composed.subscriptions, composed.payload, composed.ttl, topic=topic)
    p = composed.payload
    mobile = mobile_push.send_to(composed.devices, mobile_push.Message(p["title"], p["body"], p["url"]))
    webpush.record(outcome, now)
    mobile_push.forget(mobile.invalid)
    outcome.sent += len(mobile.sent)
    outcome.errors += mobile.errors
    send = db.session.get(EmailSend, send_id)
    if outcome.sent:
        email_too = push_delivery.mark_pushed(send, now, composed.template_id)
        db.session.commit()
        if email_too:
            enqueue_email(send_id)
        return f"pushed to {outcome.sent} browser(s)/device(s)" + (" and by e-mail" if email_too else "")
    job = get_current_job()
    if outcome.errors and job is not None and job.retries_left:
        db.session.commit()  # the gone subscriptions stay deleted
        raise webpush.PushError("; ".join(outcome.errors))
    # Every browser gone, or the last retry failed: the e-mail instead.
    if outcome.errors:
        push_delivery.mark_push_failed(send, now)
    else:
        push_delivery.mark_push_fell_back(send, now)
    db.session.commit()
    enqueue_email(send_id)
    return f"push {'failed' if outcome.errors else 'gone'}: by e-mail"


@app_job
def send_test_email(to: str, subject: str, text: str, html: str, type_label: str, locale: str = "en") -> str:
    """An admin's test of a template, to their own address, through the same frame and SMTP path as
    the players' e-mails (queue "mail"; RQ retries a failure). No send row, no delivery: not a player's.
    The frame speaks the version's language."""
    with i18n.force_locale(locale):
        msg = mail.build_notification(to, Rendered(subject, text, html), type_label)
    message_id = mail.send(msg)
    return f"test sent to {to} ({message_id})"


class WebhookDeliveryFailed(Exception):
    pass


@app_job
def deliver_webhook(delivery_id: int) -> str:
    """POST one delivery (queue "default"). Raises on network errors and non-2xx so RQ retries with
    exponential backoff; the log row records every attempt."""

    d = db.session.get(WebhookDelivery, delivery_id)
    if d is None:
        return "gone"
    if d.status == "succeeded":
        return "already delivered"
    ep = d.endpoint
    if ep is None or not ep.active:
        d.status, d.last_error = "failed", "endpoint deleted or switched off"
        db.session.commit()
        return "endpoint inactive"
    url, secret, body, event_type = ep.url, ep.secret, d.body, d.event_type
    allow_private = webhooks.allow_private_addresses()
    db.session.commit()  # no transaction (SQLite write lock) held during the HTTP call
    attempt = webhooks.post(url, secret, body, event_type, delivery_id, allow_private=allow_private)
    d = db.session.get(WebhookDelivery, delivery_id)
    d.attempts = (d.attempts or 0) + 1
    d.last_attempt_at = utcnow()
    d.response_code = attempt.status_code
    if attempt.ok:
        d.status, d.last_error, d.delivered_at = "succeeded", "", d.last_attempt_at
        db.session.commit()
        return f"delivered ({attempt.status_code})"
    job = get_current_job()
    will_retry = job is not None and bool(job.retries_left) and not attempt.final
    if attempt.final:  # retrying cannot help: failed now, and the job ends without an error
        d.status, d.last_error = "failed", attempt.error
        db.session.commit()
        return f"refused: {attempt.error}"
    d.status, d.last_error = ("retrying" if will_retry else "failed"), attempt.error
    db.session.commit()
    raise WebhookDeliveryFailed(f"delivery {delivery_id} to {url}: {attempt.error}")


# ---------------------------------------------------------------------------------------------
# Jobs: recurring


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


@app_job
def streak_reminders() -> int:
    """Every 15 min: reminder rows for at-risk players in their local evening (idempotent), one
    mail job each, longest streaks first."""

    ids = reminders.select_streak_reminders(utcnow())
    db.session.commit()
    enqueue_deliveries(ids)
    return len(ids)


@app_job
def weekly_recaps() -> int:

    ids = reminders.prepare_recaps(utcnow())
    db.session.commit()
    enqueue_deliveries(ids)
    return len(ids)


@app_job
def settle_streaks(batch: int = 200) -> int:
    """Every 15 min: close lapsed streak periods, so freezes are consumed and `streak.lost` fires
    close to each player's local midnight (not only when they come back)."""

    now = utcnow()
    config = streaks.get_config()
    if config is None or not config.enabled:
        return 0
    # A period needs closing only if last_covered is before the player's local yesterday, which is
    # always before today's UTC date.
    ids = list(
        db.session.execute(
            db.select(UserStreak.user_id).where(UserStreak.length > 0, UserStreak.last_covered < now.date())
        ).scalars()
    )
    db.session.commit()
    closed = 0
    for i in range(0, len(ids), batch):
        chunk = list(db.session.execute(db.select(User).where(User.id.in_(ids[i : i + batch]))).scalars())
        closed += sum(1 for change in streaks.settle_users(chunk, now) if change is not None and change.periods)
        db.session.commit()
    if closed:
        request_dispatch()
    return closed


@app_job
def time_interval_points() -> int:

    now = utcnow()
    n = points.run_time_interval_triggers(now) + points.run_local_midnight_triggers(now)
    db.session.commit()
    if n:
        request_dispatch()
    return n


def _optional(module: str, attr: str):
    """A job another feature provides, or None while that feature is not installed."""
    if importlib.util.find_spec(module) is None:
        return None
    return getattr(importlib.import_module(module), attr, None)


@app_job
def energy_fills(now=None) -> str:
    """Every 5 minutes: the daily energy grant at each player's local midnight (when set), then "energy
    full" for players whose energy filled up since they last looked."""
    fn = _optional("gamify.services.energy", "announce_fills")
    grant = _optional("gamify.services.energy", "grant_daily")
    if fn is None:
        return "skipped: gamify.services.energy is not installed"
    if grant is not None:
        grant(now)  # the daily grant at local midnight first: it may fill the bar
    return f"done: {fn(now)!r}"


@app_job
def expire_gifts(now=None) -> str:
    """Hourly: gifts nobody accepted in time expire (refunded when the settings say so)."""
    fn = _optional("gamify.services.energy", "expire_gifts")
    if fn is None:
        return "skipped: gamify.services.energy is not installed"
    result = fn(now)
    db.session.commit()
    return f"done: {result!r}"


@app_job
def audit_energy_ledger(now=None) -> str:
    """Every 15 minutes: flag energy that rose with no ledger row to explain it (services.energy.audit)."""
    fn = _optional("gamify.services.energy", "audit_ledger")
    if fn is None:
        return "skipped: gamify.services.energy is not installed"
    opened = fn(now)
    db.session.commit()
    return f"done: {opened} flagged"


@app_job
def rebuild_leaderboards() -> str:
    """Restore the Redis copy of boards that lost it (enqueued by events that found it missing)."""

    done = leaderboards.rebuild(only_if_needed=True)
    db.session.commit()
    return f"rebuilt: {done}"


@app_job
def finalise_leaderboards(now=None) -> str:
    """Every 5 minutes: archive the periods that have ended in every time zone."""
    fn = _optional("gamify.services.leaderboards", "finalise_due")
    if fn is None:
        return "skipped: gamify.services.leaderboards is not installed"
    done = fn(now)
    db.session.commit()
    request_dispatch()
    return f"done: {len(done)} period(s) finalised"


@app_job
def run_backfill(run_id: int) -> Optional[int]:
    """An achievement's backfill in the background (admin "Activate" on a large installation). Commits as
    it goes: the admin page polls the status and the numbers, and what is written stays written (a re-run
    after a failure skips it). Returns how many players received the achievement, None when another
    worker had the run or it failed (the failure is recorded on the run for the admin)."""
    run = backfill.claim(run_id)
    if run is None:
        return None
    db.session.commit()
    try:
        added = backfill.execute(run, run.achievement, after_progress=db.session.commit)
        db.session.commit()
        return added
    except Exception as e:
        db.session.rollback()
        log.exception("backfill run %s failed", run_id)
        backfill.mark_failed(run_id, str(e)[:2000] or e.__class__.__name__)
        db.session.commit()
        return None


@app_job
def roll_up_analytics() -> dict:
    """Hourly: the analytics rollups of yesterday and today, and of any day never rolled up (the whole
    history on the first run after the upgrade), in one transaction."""
    return analytics_rollups.roll_up()


@app_job
def prune_logs(days: int = 90) -> dict:
    """Daily: forget delivery-log and send-ledger rows older than `days` (finished ones only), and the
    nonces of login links that have expired anyway."""

    cutoff = utcnow() - timedelta(days=days)
    d = db.session.execute(
        db.delete(WebhookDelivery).where(
            WebhookDelivery.created_at < cutoff, WebhookDelivery.status.in_(("succeeded", "failed"))
        )
    )
    e = db.session.execute(
        db.delete(EmailSend).where(
            EmailSend.created_at < cutoff, EmailSend.status.in_(("sent", "skipped", "expired", "failed"))
        )
    )
    n = db.session.execute(
        db.delete(UsedLoginLink).where(UsedLoginLink.used_at < utcnow() - timedelta(seconds=links.LOGIN_MAX_AGE + 3600))
    )
    db.session.commit()
    return {"deliveries": d.rowcount, "emails": e.rowcount, "login_links": n.rowcount}


# ---------------------------------------------------------------------------------------------
# The schedule


@dataclass(frozen=True)
class Scheduled:
    name: str
    func: Callable
    description: str
    cron: Optional[str] = None
    interval: Optional[int] = None
    timeout: int = 600
    queue: str = DEFAULT_QUEUE

    @property
    def when(self) -> str:
        return f"every {self.interval} s" if self.interval else f"cron '{self.cron}'"

    @property
    def ttl(self) -> int:
        """A recurring job still queued after this long is dropped (the next run does its work)."""
        return max(self.interval or 900, 300)


SCHEDULE: tuple[Scheduled, ...] = (
    Scheduled(
        "dispatch-outbox",
        dispatch_outbox,
        "Others' rank changes, then domain events to webhooks and e-mails; catch up on anything left pending",
        interval=60,
        timeout=300,
        queue=FANOUT_QUEUE,
    ),
    Scheduled(
        "streak-reminders",
        streak_reminders,
        "Streak reminder e-mails in each player's local evening",
        cron="*/15 * * * *",
    ),
    Scheduled(
        "settle-streaks",
        settle_streaks,
        "Close lapsed streak periods (freezes, streak.lost) near local midnight",
        cron="*/15 * * * *",
    ),
    Scheduled(
        "weekly-recaps", weekly_recaps, "Weekly recap e-mails on the recap weekday, local time", cron="*/15 * * * *"
    ),
    Scheduled(
        "time-interval-points",
        time_interval_points,
        "Time-interval and local-midnight points triggers",
        cron="*/15 * * * *",
    ),
    Scheduled(
        "energy-full",
        energy_fills,
        "Tell players whose energy filled up (once per fill), without them opening the app",
        cron="*/5 * * * *",
    ),
    Scheduled(
        "energy-ledger-audit",
        audit_energy_ledger,
        "Flag energy that rose with no ledger row to explain it (anti-cheat)",
        cron="*/15 * * * *",
    ),
    Scheduled(
        "expire-gifts", expire_gifts, "Expire energy gifts (when the energy feature is installed)", cron="*/5 * * * *"
    ),
    Scheduled(
        "finalise-leaderboards",
        finalise_leaderboards,
        "Finalise leaderboards whose period ended (when the leaderboards feature is installed)",
        cron="*/5 * * * *",
    ),
    Scheduled(
        "analytics-rollups",
        roll_up_analytics,
        "Analytics rollups: yesterday and today again, and any day missing (the history on the first run)",
        cron="41 * * * *",
        timeout=3600,
    ),
    Scheduled("prune-logs", prune_logs, "Forget delivery logs older than 90 days", cron="17 3 * * *"),
)


def scheduled(name: str) -> Scheduled:
    for s in SCHEDULE:
        if s.name == name:
            return s
    raise KeyError(name)


CRON_LEADER_KEY = "gamify:cron:leader"
# The leader refreshes the lock every CRON_TICK seconds; a leader that died (killed, its machine gone)
# holds it CRON_LEADER_TTL seconds more at most, and a follower tries every CRON_TICK seconds: another
# scheduler leads within TTL + TICK (40 s) of the leader's death. A clean stop releases it at once.
CRON_TICK = 10
CRON_LEADER_TTL = 30


class LeaderCronScheduler(CronScheduler):
    """rq.cron.CronScheduler that only enqueues while it holds the leader lock, so several workers
    can each run one (fail-over) without enqueueing every job several times. Followers keep their
    clocks in step. With `parent_pid`, it stops when that process is gone."""

    def __init__(self, *args, parent_pid: Optional[int] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.parent_pid = parent_pid
        self.is_leader = False

    def _lead(self) -> bool:

        outcome = acquire_or_refresh_lock(self.connection, CRON_LEADER_KEY, self.name, CRON_LEADER_TTL)
        leader = outcome in ("acquired", "refreshed")
        if leader != self.is_leader:
            self.log.info(
                "CronScheduler %s: %s", self.name, "leading" if leader else "standing by (another scheduler leads)"
            )
        self.is_leader = leader
        return leader

    def enqueue_jobs(self):
        if self._lead():
            return super().enqueue_jobs()

        t = now()
        for job in self._cron_jobs:
            if job.should_run():
                job.set_enqueue_time(t)
        return []

    def calculate_sleep_interval(self) -> float:
        # RQ sleeps until the next job is due (up to 60 s); the lock needs a shorter beat.
        return min(super().calculate_sleep_interval(), CRON_TICK)

    def heartbeat(self) -> None:
        if self.parent_pid and os.getppid() != self.parent_pid:
            self.log.info("CronScheduler %s: parent process gone, stopping", self.name)
            raise StopRequested()
        super().heartbeat()

    def register_death(self, pipeline=None) -> None:

        try:
            release_lock(self.connection, CRON_LEADER_KEY, self.name)
        finally:
            super().register_death(pipeline)


def build_cron(connection, parent_pid: Optional[int] = None, name: str = "") -> LeaderCronScheduler:
    cron = LeaderCronScheduler(connection=connection, parent_pid=parent_pid, name=name)
    for s in SCHEDULE:
        cron.register(
            s.func,
            s.queue,
            interval=s.interval,
            cron=s.cron,
            job_timeout=s.timeout,
            result_ttl=3600,
            ttl=s.ttl,
            failure_ttl=int(timedelta(days=7).total_seconds()),
            name=s.name,
        )
    return cron
