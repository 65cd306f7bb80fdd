"""The e-mail send log as the admin console shows it: counts by type and status, the latest sends, and
sending a failed one again. (The sends themselves are written and delivered by `reminders`.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

from ..extensions import db
from ..models._common import utcnow
from ..models.webhooks import EmailSend

RETRYABLE = ("failed", "unknown")


def counts_by_type(days: int = 7) -> dict[str, dict[str, int]]:
    """{type: {status: sends}} over the last `days`."""
    since = utcnow() - timedelta(days=days)
    counts: dict = {}
    for type_, status, n in db.session.execute(
        db.select(EmailSend.type, EmailSend.status, db.func.count(EmailSend.id))
        .where(EmailSend.created_at >= since)
        .group_by(EmailSend.type, EmailSend.status)
    ).all():
        counts.setdefault(type_, {})[status] = n
    return counts


def latest(type_: Optional[str], limit: int) -> list[EmailSend]:
    """The newest sends (of one type if given)."""
    q = db.select(EmailSend).order_by(EmailSend.id.desc()).limit(limit)
    if type_:
        q = q.where(EmailSend.type == type_)
    return list(db.session.execute(q).scalars())


def find(send_id: int) -> Optional[EmailSend]:
    return db.session.get(EmailSend, send_id)


def reopen_for_retry(send: EmailSend) -> None:
    """Make a failed send, or one whose delivery is unknown, one the mail job sends again. An unknown one
    is sent again with the same Message-ID: mail systems that already have it can drop the copy."""
    if send.status == "unknown":
        send.status = "failed"
