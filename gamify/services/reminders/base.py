"""What every part of the player e-mails shares: the channels, Skip (a mail no longer wanted), the
messaging settings, and whether a player wants a type (wants, email_wanted).
"""

from __future__ import annotations

from datetime import timedelta

from ...extensions import db
from ...models import User
from ...models._common import utcnow
from ...models.users import ROLE_PLAYER
from ...models.webhooks import MessagingSettings
from .. import outbox, webpush

CHANNEL = "email"
PUSH = "push"
# A claimed row whose job died mid-send may be claimed again after this long.
CLAIM_TIMEOUT = timedelta(minutes=10)
# Pending rows older than this are never (re-)enqueued.
MAX_PENDING_AGE = timedelta(days=8)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Skip(Exception):
    """The mail is no longer wanted: status 'skipped' or 'expired', with the reason."""

    def __init__(self, reason: str, status: str = "skipped"):
        super().__init__(reason)
        self.reason, self.status = reason, status


DEFAULTS = {
    "email_enabled": True,
    "reminder_hour": 20,
    "weekly_reminder_weekday": 4,
    "weekly_reminder_hour": 9,
    "monthly_reminder_days_before": 3,
    "reactivation_threshold": 7,
    "reactivation_hour": 10,
    "reactivation_days": "3,7,14,30",
    "recap_weekday": 0,
    "recap_hour": 9,
    "webhooks_allow_private": False,
    "control_ratio": 0,
    "default_locale": "en",
}


def get_settings() -> MessagingSettings:
    """The settings row (an unsaved one with the defaults while an admin never saved any)."""
    row = db.session.execute(db.select(MessagingSettings).order_by(MessagingSettings.id).limit(1)).scalar_one_or_none()
    return row if row is not None else MessagingSettings(**DEFAULTS)


def update_settings(**values) -> MessagingSettings:
    row = db.session.execute(db.select(MessagingSettings).order_by(MessagingSettings.id).limit(1)).scalar_one_or_none()
    if row is None:
        row = MessagingSettings(**DEFAULTS)
        db.session.add(row)
    for k, v in values.items():
        if k not in DEFAULTS:
            raise KeyError(k)
        setattr(row, k, v)
    row.updated_at = utcnow()
    return row


def wants(user: User, type_: str) -> bool:
    """The player is to hear about it: by e-mail, or by push (where the e-mail is the fallback)."""
    return (
        bool(user.email)
        and user.role == ROLE_PLAYER
        and (outbox.channel_enabled(user.id, type_, CHANNEL) or outbox.channel_enabled(user.id, type_, PUSH))
    )


def email_wanted(user_id: int, type_: str) -> bool:
    """E-mail goes out when the player wants it, or as the fallback of a push they want but that has no
    browser to go to (none subscribed, or the push service dropped them all: 404/410 deletes them).
    With push and e-mail both on, the player chose both."""
    if outbox.channel_enabled(user_id, type_, CHANNEL):
        return True
    return outbox.channel_enabled(user_id, type_, PUSH) and not any(webpush.targets(user_id))
