"""A player's in-app notifications (written by `outbox.notify`): the latest few, a page of them, the
unread count, marking them read."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import func, update

from ..extensions import db
from ..models import Notification
from ..models._common import utcnow


def _newest_first(user_id: int):
    return (
        db.select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )


def latest(user_id: int, limit: int) -> list[Notification]:
    return list(db.session.execute(_newest_first(user_id).limit(limit)).scalars())


def page(user_id: int, number: int, per_page: int):
    return db.paginate(_newest_first(user_id), page=number, per_page=per_page, error_out=False)


def unread_count(user_id: int) -> int:
    return int(
        db.session.execute(
            db.select(func.count(Notification.id)).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        ).scalar_one()
    )


def mark_all_read(user_id: int) -> int:
    return db.session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    ).rowcount


def open_one(user_id: int, notification_id: int) -> Optional[Notification]:
    """The player's notification, now read; None if it is not theirs (or does not exist)."""
    n = db.session.get(Notification, notification_id)
    if n is None or n.user_id != user_id:
        return None
    if n.read_at is None:
        n.read_at = utcnow()
    return n
