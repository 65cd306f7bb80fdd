"""Domain events (the outbox) and in-app notifications, both written in the caller's transaction."""
from typing import Optional

from sqlalchemy import Integer, String, Text, exists, insert, literal, select

from ..extensions import db
from ..models import DomainEvent, Notification, NotificationPreference
from ..models._common import UTCDateTime, utcnow

# Called after commit with the list of new DomainEvent ids (webhook delivery plugs in here).
AFTER_COMMIT_LISTENERS: list = []


def emit(type_: str, user_id: Optional[int], payload: dict, source_event_id: Optional[int] = None) -> DomainEvent:
    ev = DomainEvent(type=type_, user_id=user_id, payload=payload, source_event_id=source_event_id,
                     created_at=utcnow())
    db.session.add(ev)
    return ev


def emit_many(events: list[tuple[str, Optional[int], dict, Optional[int]]]) -> None:
    """Several `emit`s as one bulk INSERT (type, user_id, payload, source_event_id); same rows as emit,
    without building ORM objects (for fan-out such as other players' rank changes)."""
    if not events:
        return
    now = utcnow()
    db.session.execute(insert(DomainEvent), [
        {"type": t, "user_id": u, "payload": p, "source_event_id": s, "created_at": now, "dispatched_at": None}
        for t, u, p, s in events])


def channel_enabled(user_id: int, type_: str, channel: str) -> bool:
    pref = db.session.execute(
        db.select(NotificationPreference.enabled).where(
            NotificationPreference.user_id == user_id,
            NotificationPreference.type == type_,
            NotificationPreference.channel == channel,
        )
    ).scalar_one_or_none()
    return True if pref is None else bool(pref)


def set_preference(user_id: int, type_: str, channel: str, enabled: bool) -> None:
    pref = db.session.execute(
        db.select(NotificationPreference).where(
            NotificationPreference.user_id == user_id,
            NotificationPreference.type == type_,
            NotificationPreference.channel == channel,
        )
    ).scalar_one_or_none()
    if pref is None:
        db.session.add(NotificationPreference(user_id=user_id, type=type_, channel=channel, enabled=enabled))
    else:
        pref.enabled = enabled


def notify(user_id: int, type_: str, title: str, body: str = "", link: str = "") -> None:
    """An in-app notification, unless the player switched that type off in-app: one INSERT ... SELECT
    that checks the opt-out itself (no read round trip on the event path)."""
    opted_out = exists().where(NotificationPreference.user_id == user_id, NotificationPreference.type == type_,
                               NotificationPreference.channel == "in_app",
                               NotificationPreference.enabled.is_(False))
    row = select(literal(user_id, Integer()), literal(type_, String()), literal(title, String()),
                 literal(body, Text()), literal(link, String()), literal(utcnow(), UTCDateTime())).where(~opted_out)
    db.session.execute(insert(Notification).from_select(
        ["user_id", "type", "title", "body", "link", "created_at"], row))
