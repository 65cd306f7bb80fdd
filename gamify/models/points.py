"""Points systems, their triggers, boosts and levels, the award ledger and balances."""

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._common import JSONType, UTCDateTime, utcnow

TRIGGER_TYPES = ("metric", "streak", "streak_day", "achievement", "time_interval", "local_midnight", "signup")
ROUNDING = ("floor", "ceil", "nearest")


class PointsSystem(db.Model):
    __tablename__ = "points_systems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120))
    badge: Mapped[str] = mapped_column(String(64), default="⭐")
    # Most a player can earn from triggers in one local day (None = unlimited).
    daily_cap: Mapped[Optional[int]] = mapped_column(Integer)
    # Balance ceiling for energy-like systems such as hearts (None = unlimited).
    max_balance: Mapped[Optional[int]] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    levels = relationship(
        "PointsLevel", order_by="PointsLevel.threshold", lazy="selectin", cascade="all, delete-orphan"
    )


class PointsTrigger(db.Model):
    __tablename__ = "points_triggers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("points_systems.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    metric_id: Mapped[Optional[int]] = mapped_column(ForeignKey("metrics.id"))
    per_units: Mapped[float] = mapped_column(Float, default=1.0)  # metric: points per this many units
    streak_length: Mapped[Optional[int]] = mapped_column(Integer)
    # streak_day: points on every extension, times the streak's new length when set (day 3: 3 x points)
    times_length: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    achievement_id: Mapped[Optional[int]] = mapped_column(ForeignKey("achievements.id"))
    interval_hours: Mapped[Optional[int]] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)  # negative allowed
    attribute_filters: Mapped[dict] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    system = relationship("PointsSystem")
    metric = relationship("Metric")


class PointsBoost(db.Model):
    __tablename__ = "points_boosts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("points_systems.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    multiplier: Mapped[float] = mapped_column(Float)
    rounding: Mapped[str] = mapped_column(String(8), default="floor")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attribute_filters: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointsLevel(db.Model):
    __tablename__ = "points_levels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("points_systems.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    threshold: Mapped[int] = mapped_column(Integer)
    badge: Mapped[str] = mapped_column(String(64), default="")


class PointsAward(db.Model):
    """Audit ledger: every change of a balance, with how it was computed and what caused it."""

    __tablename__ = "points_awards"
    # Manual awards through the API carry the host app's Idempotency-Key: one award per key, player and
    # system (as events are per player and metric); NULL for every other award.
    __table_args__ = (UniqueConstraint("user_id", "system_id", "idempotency_key", name="uq_points_award_idempotency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("points_systems.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    base_amount: Mapped[int] = mapped_column(Integer)
    boost_multiplier: Mapped[float] = mapped_column(Float, default=1.0)
    trigger_type: Mapped[str] = mapped_column(String(16))  # a trigger type, or admin|spend|refill
    trigger_id: Mapped[Optional[int]] = mapped_column(ForeignKey("points_triggers.id"))
    source_event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("metric_events.id"), index=True)
    reason: Mapped[str] = mapped_column(String(255), default="")
    local_date: Mapped[date] = mapped_column(Date)
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(255))


class PointsBalance(db.Model):
    __tablename__ = "points_balances"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("points_systems.id"), primary_key=True, index=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    level_id: Mapped[Optional[int]] = mapped_column(ForeignKey("points_levels.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
