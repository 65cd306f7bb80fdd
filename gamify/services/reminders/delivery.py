"""A send row's way through the deliver_email job: claimed (never by two jobs), released, marked
submitting, sent, failed, skipped or unknown, each outcome in the delivery log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import and_, or_, update

from ...extensions import db
from ...models._common import utcnow
from ...models.webhooks import EmailSend
from .. import deliveries
from .base import CHANNEL, CLAIM_TIMEOUT, PUSH, Skip


def claim(send_id: int, now: Optional[datetime] = None) -> bool:
    """Atomically take a row for sending (pending/failed, or a stale 'sending' whose job died).
    Two jobs for the same row can never both send it."""
    now = now or utcnow()
    result = db.session.execute(
        update(EmailSend)
        .where(
            EmailSend.id == send_id,
            or_(
                EmailSend.status.in_(("pending", "failed")),
                and_(EmailSend.status == "sending", EmailSend.claimed_at < now - CLAIM_TIMEOUT),
            ),
        )
        .values(status="sending", claimed_at=now, attempts=EmailSend.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release(send: EmailSend) -> None:
    send.status = "pending"
    send.attempts = max((send.attempts or 1) - 1, 0)
    send.claimed_at = None


def mark_submitting(send: EmailSend, now: datetime) -> None:
    """The message is about to be handed to the SMTP server: from here on the row is not claimable."""
    send.status, send.claimed_at = "submitting", now


def mark_unknown(send: EmailSend, error: str) -> None:
    send.status, send.last_error = "unknown", ("It may or may not have been delivered: " + error)[:2000]


def settle_uncertain(now: Optional[datetime] = None) -> int:
    """Rows left 'submitting' by a worker that died mid-send (past the claim timeout) become 'unknown':
    the server may have taken the message, so they are not sent again automatically."""
    now = now or utcnow()
    result = db.session.execute(
        update(EmailSend)
        .where(
            EmailSend.status == "submitting",
            EmailSend.claimed_at < now - CLAIM_TIMEOUT,
        )
        .values(
            status="unknown",
            last_error="The worker stopped while handing this e-mail to the mail server; "
            "it may or may not have been delivered.",
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def mark_sent(
    send: EmailSend,
    message_id: str,
    now: Optional[datetime] = None,
    template_id: Optional[int] = None,
    fallback: bool = False,
) -> None:
    send.status, send.sent_at, send.message_id, send.last_error = "sent", now or utcnow(), message_id or "", ""
    log_delivery(send, "sent", send.sent_at, template_id)
    if fallback and deliveries.find(deliveries.push_ref(send.id)) is None:
        log_delivery(send, "fell_back", send.sent_at, channel=PUSH)  # push was wanted but had nothing to go to


def mark_failed(send: EmailSend, error: str, now: Optional[datetime] = None) -> None:
    send.status, send.last_error = "failed", error[:2000]
    log_delivery(send, "failed", now or utcnow())


def mark_skipped(send: EmailSend, skip: Skip, now: Optional[datetime] = None) -> None:
    send.status, send.last_error = skip.status, skip.reason
    if skip.status == "failed":  # e.g. a template that cannot be rendered: the admin's to fix
        log_delivery(send, "failed", now or utcnow())


def log_delivery(
    send: EmailSend, status: str, now: datetime, template_id: Optional[int] = None, channel: str = CHANNEL
) -> None:
    """The delivery log's row for this message, in the transaction that records its outcome."""
    reminder = send.type == "streak_reminder"
    deliveries.record(
        deliveries.email_ref(send.id) if channel == CHANNEL else deliveries.push_ref(send.id),
        type=send.type,
        channel=channel,
        user_id=send.user_id,
        status=status,
        now=now,
        template_id=template_id,
        period_start=send.period_start if reminder else None,
        period_ends_at=send.expires_at if reminder else None,
    )
