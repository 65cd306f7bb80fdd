"""Web Push subscriptions: one row per browser (device) a player subscribed on. The endpoint is the
push service's URL for that browser; p256dh and auth are the browser's keys the payload is encrypted
for (RFC 8291). A 404/410 from the push service means the browser dropped it: the row is deleted."""

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._common import UTCDateTime, utcnow

# The notification types that go out by e-mail, and so by push (the in-app only ones stay in the app).
PUSH_TYPES = ("streak_reminder", "achievement", "reactivation", "recap")
# A push endpoint URL (Chrome's FCM ones are ~180 characters, Mozilla's ~250); longer ones are refused.
ENDPOINT_LIMIT = 1024


class PushSubscription(db.Model):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(ENDPOINT_LIMIT), unique=True)
    p256dh: Mapped[str] = mapped_column(String(128))
    auth: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_success_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
