"""Webhook jobs (queue "default"): one delivery POSTed, retried with exponential backoff
(deliver_webhook), and how it is enqueued.
"""

from __future__ import annotations

from datetime import timedelta

from rq import get_current_job

from ..extensions import db
from ..models._common import utcnow
from ..models.webhooks import WebhookDelivery
from ..services import webhooks
from .base import DEFAULT_QUEUE, _safe, app_job, enqueue_unique, webhook_retry


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
