"""Webhook endpoints as admins manage them (URL and event types checked: WebhookError; created,
updated, secret rotated, deleted) and their delivery log (counts, pages, redelivery).
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from ...extensions import db
from ...models._common import utcnow
from ...models.webhooks import WEBHOOK_EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from .signing import generate_secret


class WebhookError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def validate_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("url", "enter an http:// or https:// URL, e.g. https://example.com/hooks/gamify")
    if len(url) > 500:
        raise WebhookError("url", "the URL is too long (500 characters at most)")
    return url


def validate_event_types(types) -> list[str]:
    types = [t for t in (types or []) if t]
    unknown = [t for t in types if t not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise WebhookError("event_types", f"unknown event types: {', '.join(unknown)}")
    if not types:
        raise WebhookError("event_types", "pick at least one event type")
    return sorted(set(types))


def create_endpoint(url: str, event_types, description: str = "", active: bool = True) -> WebhookEndpoint:
    now = utcnow()
    ep = WebhookEndpoint(
        url=validate_url(url),
        event_types=validate_event_types(event_types),
        description=(description or "").strip()[:200],
        active=active,
        secret=generate_secret(),
        created_at=now,
        updated_at=now,
    )
    db.session.add(ep)
    db.session.flush()
    return ep


def update_endpoint(ep: WebhookEndpoint, url: str, event_types, description: str, active: bool) -> None:
    """Refused input (WebhookError) leaves the endpoint as it was: everything is checked before it changes."""
    url, event_types = validate_url(url), validate_event_types(event_types)
    ep.url = url
    ep.event_types = event_types
    ep.description = (description or "").strip()[:200]
    ep.active = bool(active)
    ep.updated_at = utcnow()


def rotate_secret(ep: WebhookEndpoint) -> str:
    ep.secret = generate_secret()
    ep.updated_at = utcnow()
    return ep.secret


def all_endpoints() -> list[WebhookEndpoint]:
    return list(db.session.execute(db.select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars())


def find_endpoint(endpoint_id: int) -> Optional[WebhookEndpoint]:
    return db.session.get(WebhookEndpoint, endpoint_id)


def delete_endpoint(ep: WebhookEndpoint) -> None:
    """The endpoint and its delivery log."""
    db.session.execute(db.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == ep.id))
    db.session.delete(ep)


def delivery_counts() -> dict[int, dict[str, int]]:
    """{endpoint id: {status: deliveries}}."""
    out: dict = {}
    for endpoint_id, status, n in db.session.execute(
        db.select(WebhookDelivery.endpoint_id, WebhookDelivery.status, db.func.count(WebhookDelivery.id)).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.status
        )
    ).all():
        out.setdefault(endpoint_id, {})[status] = n
    return out


def recent_deliveries(limit: int = 20) -> list[WebhookDelivery]:
    return list(
        db.session.execute(db.select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)).scalars()
    )


def endpoint_deliveries(ep: WebhookEndpoint, status: Optional[str], page: int, per_page: int) -> tuple[list, bool]:
    """A page of the endpoint's deliveries, newest first (only those in `status` if given), and whether
    there are more."""
    q = db.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == ep.id)
    if status:
        q = q.where(WebhookDelivery.status == status)
    rows = list(
        db.session.execute(
            q.order_by(WebhookDelivery.id.desc()).offset((page - 1) * per_page).limit(per_page + 1)
        ).scalars()
    )
    return rows[:per_page], len(rows) > per_page


def find_delivery(delivery_id: int) -> Optional[WebhookDelivery]:
    return db.session.get(WebhookDelivery, delivery_id)


def mark_for_redelivery(d: WebhookDelivery) -> None:
    d.status = "pending"
