"""Maintenance job: old delivery logs, send rows and login-link nonces forgotten."""

from __future__ import annotations

from datetime import timedelta

from .. import links
from ..extensions import db
from ..models._common import utcnow
from ..models.users import UsedLoginLink
from ..models.webhooks import EmailSend, WebhookDelivery
from .base import app_job


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
