"""Achievement definitions, per-user progress and the append-only completion ledger."""

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._common import JSONType, UTCDateTime, utcnow

TRIGGERS = ("metric", "streak", "api", "composite")
# inactive: being set up, invisible; active: earnable; locked: visible but not earnable yet;
# archived: retired, invisible, completions kept.
STATUSES = ("inactive", "active", "locked", "archived")


class Achievement(db.Model):
    __tablename__ = "achievements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    badge: Mapped[str] = mapped_column(String(64), default="🏅")
    trigger: Mapped[str] = mapped_column(String(16))
    metric_id: Mapped[Optional[int]] = mapped_column(ForeignKey("metrics.id"), index=True)
    threshold: Mapped[Optional[float]] = mapped_column(Float)
    streak_length: Mapped[Optional[int]] = mapped_column(Integer)
    prerequisite_ids: Mapped[list] = mapped_column(JSONType, default=list)
    attribute_filters: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="inactive", index=True)
    # Hidden until earned: players see "???" and no description; earned, it is shown as any other (and it
    # counts in rarity like any other).
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    completion_count: Mapped[int] = mapped_column(Integer, default=0)
    rarity_pct: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    metric = relationship("Metric")

    @property
    def target(self) -> Optional[float]:
        if self.trigger == "metric":
            return self.threshold
        if self.trigger == "streak":
            return float(self.streak_length or 0)
        if self.trigger == "composite":
            return float(len(self.prerequisite_ids or []))
        return None


class AchievementProgress(db.Model):
    """Running value for metric achievements with attribute filters (only matching events count)."""

    __tablename__ = "achievement_progress"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id"), primary_key=True)
    value: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AchievementCompletion(db.Model):
    __tablename__ = "achievement_completions"
    __table_args__ = (UniqueConstraint("user_id", "achievement_id", name="uq_completion"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievements.id"), index=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed for deleting events (a player's erasure): each deleted event's key check finds its rows here.
    trigger_event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("metric_events.id"), index=True)
    backdated: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    achievement = relationship("Achievement", lazy="joined")
