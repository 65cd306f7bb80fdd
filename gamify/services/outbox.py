"""Domain events (the outbox) and in-app notifications, both written in the caller's transaction.
Writing a domain event asks for the outbox dispatcher once the transaction commits."""

from typing import Optional

from sqlalchemy import bindparam, text

from .. import after_commit
from ..extensions import db
from ..models import DomainEvent, NotificationPreference
from ..models._common import JSONType, UTCDateTime, utcnow
from .upsert import insert_rows


def emit(type_: str, user_id: Optional[int], payload: dict, source_event_id: Optional[int] = None) -> DomainEvent:
    ev = DomainEvent(type=type_, user_id=user_id, payload=payload, source_event_id=source_event_id, created_at=utcnow())
    db.session.add(ev)
    after_commit.request("outbox")
    return ev


def emit_many(events: list[tuple[str, Optional[int], dict, Optional[int]]]) -> None:
    """Several `emit`s as one multi-row INSERT (type, user_id, payload, source_event_id); same rows as
    emit, without building ORM objects."""
    if not events:
        return
    now = utcnow()
    after_commit.request("outbox")
    insert_rows(
        DomainEvent,
        [
            {"type": t, "user_id": u, "payload": p, "source_event_id": s, "created_at": now, "dispatched_at": None}
            for t, u, p, s in events
        ],
    )


# Channels a player switches on themselves (subscribing a browser to push turns it on: webpush.py).
OFF_BY_DEFAULT = frozenset({"push"})


def channel_enabled(user_id: int, type_: str, channel: str) -> bool:
    pref = db.session.execute(
        db.select(NotificationPreference.enabled).where(
            NotificationPreference.user_id == user_id,
            NotificationPreference.type == type_,
            NotificationPreference.channel == channel,
        )
    ).scalar_one_or_none()
    return channel not in OFF_BY_DEFAULT if pref is None else bool(pref)


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


# One INSERT ... SELECT that checks the opt-out itself (no read round trip on the event path).
_NOTIFY = text("""
INSERT INTO notifications (user_id, type, title, body, link, message, params, created_at)
SELECT CAST(:user_id AS INTEGER), CAST(:type AS VARCHAR(32)), CAST(:title AS VARCHAR(200)), CAST(:body AS TEXT),
       CAST(:link AS VARCHAR(255)), CAST(:message AS VARCHAR(64)), :params, :now
WHERE NOT EXISTS (SELECT 1 FROM notification_preferences
                  WHERE user_id = CAST(:user_id AS INTEGER) AND type = CAST(:type AS VARCHAR(32))
                    AND channel = 'in_app' AND enabled = false)
  AND NOT EXISTS (SELECT 1 FROM users WHERE id = CAST(:user_id AS INTEGER) AND control_group)
""").bindparams(bindparam("now", type_=UTCDateTime()), bindparam("params", type_=JSONType()))


def notify(
    user_id: int,
    type_: str,
    title: str,
    body: str = "",
    link: str = "",
    message: str = "",
    params: Optional[dict] = None,
) -> None:
    """An in-app notification, unless the player switched that type off in-app or is in the control group
    (who get no gamification; the pipeline's bulk write checks the same two things). `message` and
    `params`: its key in gamify.notices, so it is worded in the reader's language when shown."""
    db.session.execute(
        _NOTIFY,
        {
            "user_id": user_id,
            "type": type_,
            "title": title,
            "body": body or "",
            "link": link or "",
            "message": message,
            "params": params,
            "now": utcnow(),
        },
    )
