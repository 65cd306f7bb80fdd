"""Shapes of the leaderboard API: boards, rankings, a player's position."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import (
    Field,
)

from .base import (
    In,
    LimitArg,
    OffsetArg,
    Out,
    RadiusArg,
    RunArg,
    ZoneArg,
)


class RankingsQuery(In):
    segment: Annotated[Optional[str], Field(description="global or <attribute>:<value>")] = None
    limit: Optional[LimitArg] = Field(None, description="Default: the board's size, at most 25.")
    offset: OffsetArg = 0
    run: RunArg = None
    tz: ZoneArg = None


class PositionQuery(In):
    segment: Annotated[Optional[str], Field(description="global or <attribute>:<value>")] = None
    radius: RadiusArg = 2
    run: RunArg = None


# ------------------------------------------------------------------------------------------ responses


class BoardOut(Out):
    key: str
    name: str
    ranked_by: str
    metric: Optional[str] = None
    system: Optional[str] = None
    frequency: str
    start_date: Optional[str] = None
    participant_limit: int
    breakdown: list[str]


class BoardsOut(Out):
    leaderboards: list[BoardOut]


class PeriodOut(Out):
    key: str
    start: Optional[str] = None
    end: Optional[str] = None
    status: str
    ends_at: Optional[str] = None
    finalises_at: Optional[str] = None


class EntryOut(Out):
    rank: int
    user_id: Optional[str] = None
    name: Optional[str] = None
    score: float


class RankingsOut(Out):
    leaderboard: BoardOut
    segment: str
    offset: int
    limit: int
    period: PeriodOut
    participants: int
    total: int
    rankings: list[EntryOut]


class PositionOut(Out):
    leaderboard: str
    segment: str
    user_id: str
    name: Optional[str] = None
    period: PeriodOut
    participants: int
    rank: Optional[int] = None
    score: Optional[float] = None
    around: list[EntryOut]
