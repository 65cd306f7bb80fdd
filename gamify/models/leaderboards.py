"""Leaderboards: configuration, per-period scores (the record behind Redis), rank history and runs."""

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._common import JSONType, UTCDateTime, utcnow

RANKED_BY = ("metric", "points", "streak")
FREQUENCIES = ("perpetual", "daily", "weekly", "monthly")


class Leaderboard(db.Model):
    __tablename__ = "leaderboards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120))
    ranked_by: Mapped[str] = mapped_column(String(16))  # metric|points|streak
    metric_id: Mapped[Optional[int]] = mapped_column(ForeignKey("metrics.id"))
    system_id: Mapped[Optional[int]] = mapped_column(ForeignKey("points_systems.id"))
    frequency: Mapped[str] = mapped_column(String(16), default="perpetual")  # perpetual|daily|weekly|monthly
    # Repeating boards: the first local date counted; it also anchors week/month boundaries.
    start_date: Mapped[Optional[date]] = mapped_column(Date)
    participant_limit: Mapped[int] = mapped_column(Integer, default=10)  # top N shown and archived
    breakdown: Mapped[list] = mapped_column(JSONType, default=list)  # attribute names, e.g. ["city", "tier"]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Oldest period not finalised yet (repeating boards); older events roll into it.
    current_period_start: Mapped[Optional[date]] = mapped_column(Date)
    # Redis missed writes (it was down): rebuild from SQL on the next read.
    redis_dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    metric = relationship("Metric")
    system = relationship("PointsSystem")

    @property
    def repeating(self) -> bool:
        return self.frequency != "perpetual"


class LeaderboardScore(db.Model):
    """A player's score in one period and segment ("global" or "city:london")."""

    __tablename__ = "leaderboard_scores"
    __table_args__ = (
        UniqueConstraint("leaderboard_id", "period", "segment", "user_id", name="uq_leaderboard_score"),
        Index("ix_leaderboard_scores_rank", "leaderboard_id", "period", "segment", "score"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    leaderboard_id: Mapped[int] = mapped_column(ForeignKey("leaderboards.id"))
    period: Mapped[str] = mapped_column(String(10))  # "all" or the period's first local date (ISO)
    segment: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    achieved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when the score was reached
    version: Mapped[int] = mapped_column(Integer, default=1)  # orders Redis writes of one player
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeaderboardRankChange(db.Model):
    """History: one row per rank change (None = entered / left the segment). Like the outbox, no
    foreign keys (see DomainEvent): written in bulk by events and the rank fan-out; deleting a board
    deletes its rows."""

    __tablename__ = "leaderboard_rank_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    leaderboard_id: Mapped[int] = mapped_column(Integer, index=True)  # leaderboards.id
    period: Mapped[str] = mapped_column(String(10))
    segment: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int] = mapped_column(Integer, index=True)  # users.id
    previous_rank: Mapped[Optional[int]] = mapped_column(Integer)
    new_rank: Mapped[Optional[int]] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    source_event_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)  # metric_events.id


class LeaderboardRun(db.Model):
    """A finished period of a repeating board: its final top-N rankings, per segment."""

    __tablename__ = "leaderboard_runs"
    __table_args__ = (UniqueConstraint("leaderboard_id", "segment", "period_start", name="uq_leaderboard_run"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    leaderboard_id: Mapped[int] = mapped_column(ForeignKey("leaderboards.id"), index=True)
    segment: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # [{"rank", "user_id", "external_id", "name", "score"}, ...] in display order (top N)
    rankings: Mapped[list] = mapped_column(JSONType, default=list)
    participants: Mapped[int] = mapped_column(Integer, default=0)
    finalised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeaderboardScoreLog(db.Model):
    """Committed score changes waiting for the rank fan-out (services/rank_fanout.py): one row per
    ranking (board, period, segment) a player's score moved in, written with the event; deleted once the
    ranks of the players it overtook (or let past) are recorded. A queue: no foreign keys (see
    DomainEvent); deleting a board deletes its rows."""

    __tablename__ = "leaderboard_score_log"
    __table_args__ = (Index("ix_leaderboard_score_log_board", "leaderboard_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    leaderboard_id: Mapped[int] = mapped_column(Integer)  # leaderboards.id
    period: Mapped[str] = mapped_column(String(10))
    segment: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int] = mapped_column(Integer)  # users.id
    old_score: Mapped[Optional[float]] = mapped_column(Float)  # None: entered the ranking
    new_score: Mapped[Optional[float]] = mapped_column(Float)  # None: left it
    source_event_id: Mapped[Optional[int]] = mapped_column(Integer)  # metric_events.id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
