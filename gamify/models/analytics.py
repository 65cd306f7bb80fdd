"""Daily analytics rollups (services/analytics_rollups.py writes them; the analytics pages read them).

A day is the player's local calendar day for what carries one (events, activity, points, streak periods)
and the UTC day for the rest (achievement completions, energy, notifications)."""

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._common import UTCDateTime, utcnow


class DailyCount(db.Model):
    """One number per day and series: `kind` names the figure, `key` the thing it counts for
    (a metric id, a points system id, "lost", "email:sent"...). Rows with value 0 are not written."""

    __tablename__ = "analytics_daily_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class PlayerActivityDay(db.Model):
    """A player had at least one event on that (local) day: DAU/WAU/MAU are exact distinct counts over it,
    and retention reads it."""

    __tablename__ = "player_activity_days"
    __table_args__ = (Index("ix_player_activity_days_day", "day"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class RollupDay(db.Model):
    """A day the rollups were computed for (the scheduled job fills the days missing from this list)."""

    __tablename__ = "analytics_rollup_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
