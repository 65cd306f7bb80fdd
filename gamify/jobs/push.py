"""Push jobs (queue "push"): one notification row by Web Push and to the player's app devices
(deliver_push, the e-mail instead when nothing took it), and the choice of push or e-mail per row
(enqueue_deliveries).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rq import Retry, get_current_job

from ..extensions import db
from ..models._common import utcnow
from ..models.webhooks import EmailSend
from ..services import deliveries, mobile_push, push_delivery, reminders, webpush
from .base import PUSH_QUEUE, PUSH_RETRY, _safe, app_job, enqueue_unique
from .emails import enqueue_email

log = logging.getLogger(__package__)  # "gamify.jobs" (see base)


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
