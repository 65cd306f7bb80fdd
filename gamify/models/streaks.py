"""Streak configuration, per-user state, closed periods, the freeze ledger, restored losses and pauses."""

import uuid
from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._common import JSONType, UTCDateTime, utcnow


class StreakConfig(db.Model):
    """The product's streak (one per installation)."""

    __tablename__ = "streak_config"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    frequency: Mapped[str] = mapped_column(String(16), default="daily")  # daily|weekly|monthly
    mode: Mapped[str] = mapped_column(String(8), default="any")  # all|any requirement must be met
    freeze_initial: Mapped[int] = mapped_column(Integer, default=0)
    freeze_every: Mapped[Optional[int]] = mapped_column(Integer)  # grant one per N extended periods
    freeze_max: Mapped[int] = mapped_column(Integer, default=0)
    requirements = relationship(
        "StreakRequirement", cascade="all, delete-orphan", lazy="selectin", order_by="StreakRequirement.id"
    )


class StreakRequirement(db.Model):
    __tablename__ = "streak_requirements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("streak_config.id"))
    metric_id: Mapped[int] = mapped_column(ForeignKey("metrics.id"))
    threshold: Mapped[float] = mapped_column(Float, default=1.0)
    metric = relationship("Metric", lazy="joined")


class UserStreak(db.Model):
    __tablename__ = "user_streaks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    length: Mapped[int] = mapped_column(Integer, default=0)
    longest: Mapped[int] = mapped_column(Integer, default=0)
    started_on: Mapped[Optional[date]] = mapped_column(Date)
    # Start of the last period that was extended, and of the last one kept alive (extended, paused or frozen).
    last_extended: Mapped[Optional[date]] = mapped_column(Date)
    last_covered: Mapped[Optional[date]] = mapped_column(Date)
    # Metric sums inside the period being worked on, so ALL/ANY thresholds can be met over several events.
    progress_period: Mapped[Optional[date]] = mapped_column(Date)
    progress: Mapped[dict] = mapped_column(JSONType, default=dict)
    periods_since_grant: Mapped[int] = mapped_column(Integer, default=0)
    freezes: Mapped[int] = mapped_column(Integer, default=0)  # cache of the ledger sum
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StreakPeriod(db.Model):
    """History: one row per period that was extended, paused, frozen or broke the streak."""

    __tablename__ = "streak_periods"
    __table_args__ = (UniqueConstraint("user_id", "period_start", name="uq_streak_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    length: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # extended|paused|frozen|broken
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed for deleting events (a player's erasure): each deleted event's key check finds its rows here.
    event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("metric_events.id"), index=True)


class FreezeLedger(db.Model):
    __tablename__ = "streak_freeze_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    delta: Mapped[int] = mapped_column(Integer)  # +1 granted, -1 consumed
    kind: Mapped[str] = mapped_column(String(16))  # granted|consumed
    reason: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[Optional[date]] = mapped_column(Date)
    event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("metric_events.id"), index=True)  # (see above)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StreakRestoration(db.Model):
    """Ledger: a lost streak given back at the length it had (by the host app through the API), and why.
    The broken period stays in the history; this row says it was undone. A loss is restored once."""

    __tablename__ = "streak_restorations"
    __table_args__ = (UniqueConstraint("user_id", "lost_period_start", name="uq_streak_restoration"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    lost_period_start: Mapped[date] = mapped_column(Date)  # the period that broke the streak
    length: Mapped[int] = mapped_column(Integer)  # the length given back
    reason: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StreakPause(db.Model):
    """A span of the player's local days in which their streak is paused (engine.streaks: a period it
    touches neither extends nor breaks the streak). Set by an admin or the host app; deleting one ends
    its effect from the current period on (periods already closed as paused stay so in the history)."""

    __tablename__ = "streak_pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The id both APIs show: a UUID, as Trophy's definition declares pause ids.
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    start_on: Mapped[date] = mapped_column(Date)  # first paused local day
    end_on: Mapped[date] = mapped_column(Date)  # last paused local day (included)
    reason: Mapped[str] = mapped_column(String(120), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")  # "admin #3", "api key #5"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
