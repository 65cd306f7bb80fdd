"""In-app notifications, per-type per-channel preferences and the domain-event outbox."""

from datetime import datetime
from typing import Optional

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._common import JSONType, UTCDateTime, utcnow

# Labels are lazy: translated where they are shown (str() outside a request gives the English).
NOTIFICATION_TYPES = {
    "streak_reminder": _l("Streak reminders"),
    "achievement": _l("Achievements unlocked"),
    "reactivation": _l("Come-back messages after a lost streak"),
    "recap": _l("Weekly recap"),
    "energy_full": _l("Energy is full"),
    "energy_low": _l("Energy is low"),
    "gift": _l("Energy gifts"),
    "level_up": _l("Level ups"),
}
CHANNELS = ("in_app", "email", "push")


class Notification(db.Model):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(255), default="")
    # The message's key in gamify.notices and the values it names: the words are chosen when the
    # notification is shown, in the reader's language ('' and {}: title and body are shown as stored).
    message: Mapped[str] = mapped_column(String(64), default="", server_default="")
    params: Mapped[Optional[dict]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)


class NotificationPreference(db.Model):
    """Only opt-outs/opt-ins that differ from the default (everything on) are stored."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "type", "channel", name="uq_notification_pref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class DomainEvent(db.Model):
    """Outbox of things that happened (achievement.completed, points.changed, ...), written in the
    same transaction as the change; webhook delivery and e-mails read from here.

    No foreign keys: events write these rows by the thousand a second, in the transaction that creates
    what they name (players and metric events are never deleted), and a key check per row cost about a
    third of a batch's write."""

    __tablename__ = "domain_events"
    # What the dispatcher reads: the undispatched rows in id order. Without this index each batch walked
    # the primary key past every row already dispatched (a cost growing with the table).
    __table_args__ = (
        Index(
            "ix_domain_events_undispatched",
            "id",
            postgresql_where=text("dispatched_at IS NULL"),
            sqlite_where=text("dispatched_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)  # users.id
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    source_event_id: Mapped[Optional[int]] = mapped_column(Integer)  # metric_events.id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    dispatched_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
