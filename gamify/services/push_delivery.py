"""Notifications by push, on the send ledger of reminders.py: which rows go by push first (`push_route`),
the push for a row re-checked at send time (`compose_push`), and its outcome in the delivery log (the
row 'push-<send id>' is the push's idempotency key). The e-mail stays the fallback: reminders.compose
sends it when the player wants push but nothing can take it. jobs.deliver_push does the sending."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import and_, or_

from ..extensions import db
from ..models import DeviceToken, EmailSend, NotificationPreference
from ..models._common import utcnow
from ..models.push import PUSH_TYPES, PushSubscription
from . import deliveries, mobile_push, outbox, webpush
from .reminders import CHANNEL, PUSH, Skip, log_delivery, recipient, render_for


def push_route(send_ids: list[int]) -> set[int]:
    """The rows to deliver by push first: a type push carries, the player switched push on for it and
    has a browser subscribed (or an app device, with a mobile sender configured), and no push was tried
    for the row yet (one query for them all)."""
    if not send_ids:
        return set()
    has_target = []
    if webpush.enabled():
        has_target.append(db.select(PushSubscription.id).where(PushSubscription.user_id == EmailSend.user_id).exists())
    if mobile_push.senders():
        has_target.append(db.select(DeviceToken.id).where(DeviceToken.user_id == EmailSend.user_id).exists())
    if not has_target:
        return set()
    rows = db.session.execute(
        db.select(EmailSend.id)
        .join(
            NotificationPreference,
            and_(
                NotificationPreference.user_id == EmailSend.user_id,
                NotificationPreference.type == EmailSend.type,
                NotificationPreference.channel == PUSH,
                NotificationPreference.enabled.is_(True),
            ),
        )
        .where(
            EmailSend.id.in_(send_ids),
            EmailSend.type.in_(PUSH_TYPES),
            or_(*has_target),
        )
    ).scalars()
    ids = set(rows)
    tried = {deliveries.push_ref(i) for i in ids}
    done = set(
        db.session.execute(
            db.select(deliveries.NotificationDelivery.ref).where(deliveries.NotificationDelivery.ref.in_(tried))
        ).scalars()
    )
    return {i for i in ids if deliveries.push_ref(i) not in done}


@dataclass
class ComposedPush:
    user_id: int
    subscriptions: list
    devices: list  # app devices (mobile_push), when a sender is configured
    payload: dict  # what the service worker shows: title, body, url (the deep link), tag
    ttl: int  # seconds the push service may hold it for an offline browser
    template_id: Optional[int] = None
    timezone: str = "UTC"


def compose_push(send: EmailSend, now: Optional[datetime] = None) -> ComposedPush:
    """The push for a row, re-checked at send time like the e-mail. Raises Skip (status 'skipped' with
    reason "no browser subscribed": the e-mail is the fallback)."""
    now = now or utcnow()
    user = recipient(send, now)
    if send.type not in PUSH_TYPES or not outbox.channel_enabled(user.id, send.type, PUSH):
        raise Skip("the player switched these push notifications off")
    subs, devices = webpush.targets(user.id)
    if not subs and not devices:
        raise Skip(NO_BROWSER)
    rendered, link = render_for(send, user, now, PUSH, deliveries.push_ref(send.id))
    ttl = int((send.expires_at - now).total_seconds()) if send.expires_at else 86400
    payload = {"title": rendered.subject, "body": rendered.text, "url": link, "tag": f"{send.type}-{send.id}"}
    ttl = max(0, min(ttl, 4 * 86400))
    return ComposedPush(user.id, subs, devices, payload, ttl, rendered.template_id, user.timezone)


NO_BROWSER = "no browser or app device to push to"


def mark_pushed(send: EmailSend, now: datetime, template_id: Optional[int]) -> bool:
    """The push went out (to at least one browser). True when the e-mail is to go as well (the player
    chose both); otherwise the row is done."""
    log_delivery(send, "sent", now, template_id, channel=PUSH)
    if outbox.channel_enabled(send.user_id, send.type, CHANNEL):
        return True
    send.status, send.last_error = "skipped", "sent as a push notification"
    return False


def mark_push_fell_back(send: EmailSend, now: datetime) -> None:
    """No browser took the push (none left, or every one gone): the e-mail goes instead."""
    log_delivery(send, "fell_back", now, channel=PUSH)


def mark_push_failed(send: EmailSend, now: datetime) -> None:
    log_delivery(send, "failed", now, channel=PUSH)
