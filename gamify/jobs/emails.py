"""E-mail jobs (queue "mail"): one send row delivered over SMTP exactly once (deliver_email), an
admin's test of a template (send_test_email), and how each is enqueued.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from .. import i18n, mail
from ..extensions import db
from ..models._common import utcnow
from ..models.webhooks import EmailSend
from ..services import reminders
from ..services.notification_templates import Rendered
from .base import MAIL_QUEUE, _safe, app_job, enqueue_unique, mail_retry


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
def send_test_email(to: str, subject: str, text: str, html: str, type_label: str, locale: str = "en") -> str:
    """An admin's test of a template, to their own address, through the same frame and SMTP path as
    the players' e-mails (queue "mail"; RQ retries a failure). No send row, no delivery: not a player's.
    The frame speaks the version's language."""
    with i18n.force_locale(locale):
        msg = mail.build_notification(to, Rendered(subject, text, html), type_label)
    message_id = mail.send(msg)
    return f"test sent to {to} ({message_id})"
