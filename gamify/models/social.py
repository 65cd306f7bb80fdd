"""Friendships between players (requests and accepted friends)."""

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._common import UTCDateTime, utcnow

FRIEND_STATUSES = ("pending", "accepted")


class Friendship(db.Model):
    """One row per pair: `requester` asked `addressee`; accepted rows are friends both ways.
    Declining or removing deletes the row, so either side may ask again later."""

    __tablename__ = "friendships"
    __table_args__ = (
        UniqueConstraint("requester_id", "addressee_id", name="uq_friendship_pair"),
        CheckConstraint("requester_id <> addressee_id", name="ck_friendship_not_self"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    addressee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    requester = relationship("User", foreign_keys=[requester_id], lazy="joined")
    addressee = relationship("User", foreign_keys=[addressee_id], lazy="joined")

    def other(self, user_id: int):
        return self.addressee if self.requester_id == user_id else self.requester
