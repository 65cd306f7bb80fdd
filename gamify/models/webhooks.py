"""Outbound delivery: webhook endpoints and their delivery log, the e-mail send ledger (one row per
message, so a reminder is sent at most once per streak period) and the messaging settings row."""

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._common import JSONType, UTCDateTime, utcnow

# Domain event types a webhook endpoint can subscribe to.
WEBHOOK_EVENT_TYPES = {
    "achievement.completed": "A player completed an achievement",
    "points.changed": "A points balance changed",
    "points.level_changed": "A player reached another level",
    "leaderboard.rank_changed": "A player's leaderboard rank changed",
    "leaderboard.finished": "A leaderboard period finished",
    "streak.extended": "A streak was extended",
    "streak.lost": "A streak was lost",
    "energy.full": "A player's energy is full again",
    "energy.flagged": "A player was flagged for review (unusual spending, or energy that rose with no ledger row)",
}
TEST_EVENT_TYPE = "webhook.test"

# pending: waiting for its (first) attempt; retrying: failed, RQ will try again; succeeded;
# failed: gave up (retries exhausted, or the endpoint was switched off).
DELIVERY_STATUSES = ("pending", "retrying", "succeeded", "failed")

# E-mail types (keys of NOTIFICATION_TYPES) this module sends.
EMAIL_TYPES = ("streak_reminder", "reactivation", "achievement", "recap")
# pending: waiting to be sent; sending: claimed by a job; sent: the SMTP server accepted it;
# failed: the last attempt failed (RQ retries); skipped: no longer wanted (extended, unsubscribed, ...);
# expired: too late to be useful (e.g. the streak period ended while the mail server was down).
EMAIL_STATUSES = ("pending", "sending", "sent", "failed", "skipped", "expired")


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    # Used to sign every delivery (HMAC-SHA256); shown to admins so the receiver can verify.
    secret: Mapped[str] = mapped_column(String(100))
    event_types: Mapped[list] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def subscribes_to(self, event_type: str) -> bool:
        return event_type in (self.event_types or [])


class WebhookDelivery(db.Model):
    """One domain event sent to one endpoint, with every attempt's outcome summarised."""

    __tablename__ = "webhook_deliveries"
    # Dispatch is idempotent: one delivery per (endpoint, event). Test events have no domain event.
    __table_args__ = (UniqueConstraint("endpoint_id", "domain_event_id", name="uq_webhook_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    domain_event_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("domain_events.id", ondelete="SET NULL"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the exact JSON posted (same bytes on every attempt)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_code: Mapped[Optional[int]] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_attempt_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    endpoint = relationship("WebhookEndpoint")


class EmailSend(db.Model):
    """The send ledger. UNIQUE(user, type, period_start, ref): a streak reminder is keyed by the
    streak period it is about (ref ''), a recap by its week, an achievement mail by the achievement,
    a reactivation mail by the domain event. Marked sent only once the SMTP server accepted it."""

    __tablename__ = "email_sends"
    __table_args__ = (UniqueConstraint("user_id", "type", "period_start", "ref", name="uq_email_send"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[date] = mapped_column(Date)
    ref: Mapped[str] = mapped_column(String(64), default="")
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # Not sent before send_after (e.g. reactivation mails wait for a decent local hour); not at all
    # after expires_at (a reminder for a streak period that is over is useless).
    send_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    claimed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    message_id: Mapped[str] = mapped_column(String(255), default="")


class MessagingSettings(db.Model):
    """One row of admin-editable settings (defaults apply while it does not exist)."""

    __tablename__ = "messaging_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    reminder_hour: Mapped[int] = mapped_column(Integer, default=20)  # local hour daily-streak reminders start
    # Weekly streaks are reminded on this weekday (0 = Monday; Friday holds a quarter of all streak losses)
    # from this local hour; monthly streaks this many days before the month's last day, from reminder_hour.
    weekly_reminder_weekday: Mapped[int] = mapped_column(Integer, default=4, server_default="4")
    weekly_reminder_hour: Mapped[int] = mapped_column(Integer, default=9, server_default="9")
    monthly_reminder_days_before: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    reactivation_threshold: Mapped[int] = mapped_column(Integer, default=7)  # min lost streak length
    reactivation_hour: Mapped[int] = mapped_column(Integer, default=10)  # local hour come-back mails go out
    # The come-back sequence: days after the loss (0 = the next decent local moment); each step is
    # skipped once the player is back.
    reactivation_days: Mapped[str] = mapped_column(String(64), default="3,7,14,30", server_default="3,7,14,30")
    recap_weekday: Mapped[int] = mapped_column(Integer, default=0)  # 0 = Monday
    recap_hour: Mapped[int] = mapped_column(Integer, default=9)
    # Webhook URLs may lead to loopback/private/link-local addresses (off: server-side request forgery).
    # Percent of new players assigned to the control group (no gamification, no e-mails), by a stable hash
    # of their id; analytics compares the two groups.
    control_ratio: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    webhooks_allow_private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # The language of players who chose none and whose browser asks for none gamify speaks (gamify.i18n).
    default_locale: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
