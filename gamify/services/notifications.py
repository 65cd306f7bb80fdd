"""A player's in-app notifications (written by `outbox.notify`): the latest few, a page of them (by page
number for the web, after a cursor for the API), the unread count, marking them read; and their
preferences per type and channel (`outbox.channel_enabled` reads one; here all of them at once)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import func, or_, update

from ..extensions import db
from ..models import Notification, NotificationPreference
from ..models._common import utcnow
from ..models.notifications import CHANNELS, NOTIFICATION_TYPES
from . import outbox


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


def inbox_page(
    user_id: int, unread_only: bool = False, before: Optional[tuple[datetime, int]] = None, limit: int = 20
) -> list[Notification]:
    """Newest first, after `before` (a (created_at, id) cursor), optionally only the unread ones."""
    stmt = _newest_first(user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before is not None:
        at, nid = before
        stmt = stmt.where(or_(Notification.created_at < at, (Notification.created_at == at) & (Notification.id < nid)))
    return list(db.session.execute(stmt.limit(limit)).scalars())


def preferences(user_id: int) -> dict[str, dict[str, bool]]:
    """Every notification type and channel: on unless the player switched it off (push: off unless
    switched on; one query)."""
    stored = {
        (t, ch): bool(enabled)
        for t, ch, enabled in db.session.execute(
            db.select(
                NotificationPreference.type, NotificationPreference.channel, NotificationPreference.enabled
            ).where(NotificationPreference.user_id == user_id)
        )
    }
    default = {ch: ch not in outbox.OFF_BY_DEFAULT for ch in CHANNELS}
    return {t: {ch: stored.get((t, ch), default[ch]) for ch in CHANNELS} for t in NOTIFICATION_TYPES}


def set_preferences(user_id: int, changes: dict[str, dict[str, bool]]) -> int:
    """Apply {type: {channel: enabled}} (known types and channels only: the caller checked them);
    returns how many settings changed."""
    current = preferences(user_id)
    changed = 0
    for t, channels in changes.items():
        for ch, enabled in channels.items():
            if current[t][ch] != enabled:
                outbox.set_preference(user_id, t, ch, enabled)
                changed += 1
    return changed
