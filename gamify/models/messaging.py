"""What players are sent and how it went: the admins' notification templates (per type and channel,
optionally scoped to players with an attribute value) and the delivery log the analytics count (sent,
failed, fell back, clicked)."""

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._common import UTCDateTime, utcnow

# Channels a template is written for: an e-mail has a subject, a text and an HTML body; a push
# notification a title (kept in `subject`) and a body (kept in `text`), text only.
TEMPLATE_CHANNELS = ("email", "push")
# sent: handed over (the SMTP server / push service took it); failed: it could not be (the last
# attempt failed, or the template could not be rendered); fell_back: this channel could not reach the
# player (e.g. no device for a push) and another channel was used instead.
DELIVERY_STATUSES = ("sent", "failed", "fell_back")


class NotificationTemplate(db.Model):
    """An admin's version of one notification type on one channel. Without a row the shipped default
    (templates/notifications/) is used. scope_attribute '' is the type's template for everyone; a scoped
    one (plan = pro) is used instead for players whose attribute has that value. An inactive template is
    ignored; an inactive unscoped one means players no scoped template matches get none. Each version is
    in one language (`locale`): a player gets the versions in theirs, else that language's shipped default
    (templates/notifications/<locale>/), else the English one."""

    __tablename__ = "notification_templates"
    __table_args__ = (
        UniqueConstraint(
            "type", "channel", "locale", "scope_attribute", "scope_value", name="uq_notification_template_locale"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    scope_attribute: Mapped[str] = mapped_column(String(64), default="")
    scope_value: Mapped[str] = mapped_column(String(255), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationDelivery(db.Model):
    """One notification on one channel to one player, written by the send path in the transaction that
    records the outcome. `ref` names the message ("email-<email_sends.id>"), so a retry updates its row
    and the signed link in the message finds it to record the first click. For reminders,
    `period_start`/`period_ends_at` say which streak period it was about (did the player extend in time?)."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_type_created", "type", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    template_id: Mapped[Optional[int]] = mapped_column(Integer)  # notification_templates.id; None: shipped default
    period_start: Mapped[Optional[date]] = mapped_column(Date)
    period_ends_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    clicked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
