"""Shapes of the leaderboard record API: past runs (list and one), a player's rank history."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field

from .base import In, LimitArg, OffsetArg, Out
from .leaderboards import BoardOut, EntryOut, PeriodOut
from .points import Cursor, DayRange

Segment = Annotated[Optional[str], Field(description="global (default) or <attribute>:<value>")]


class RunsQuery(In):
    segment: Segment = None
    limit: LimitArg = Field(20, description="Runs per page.")
    cursor: Cursor = None


class RunQuery(In):
    segment: Segment = None
    limit: Optional[LimitArg] = Field(None, description="Default: the board's size, at most 100.")
    offset: OffsetArg = 0


class HistoryQuery(DayRange):
    segment: Annotated[Optional[str], Field(description="One segment (default: every segment).")] = None


# ------------------------------------------------------------------------------------------ responses


class RunSummary(Out):
    run: str = Field(description="The run's id: its first day (YYYY-MM-DD), for /runs/{run}.")
    period: PeriodOut
    participants: int
    top: list[EntryOut] = Field(description="The first three.")


class RunsOut(Out):
    leaderboard: str
    segment: str
    runs: list[RunSummary] = Field(description="Newest first.")
    has_more: bool
    next_cursor: Optional[str] = Field(None, description="Pass as ?cursor= for the next page; null on the last.")


class RunOut(Out):
    leaderboard: BoardOut
    segment: str
    run: str
    period: PeriodOut
    participants: int
    total: int = Field(description="Entries archived (the board's top N).")
    offset: int
    limit: int
    rankings: list[EntryOut]


class HistoryDay(Out):
    date: str = Field(description="The player's local day.")
    period: str = Field(description="The board's period the changes counted in.")
    rank: Optional[int] = Field(None, description="At the end of the day (null: out of the ranking).")
    best_rank: Optional[int] = None
    changes: int


class HistorySegment(Out):
    segment: str
    days: list[HistoryDay] = Field(description="Days with a change, oldest first.")


class HistoryOut(Out):
    leaderboard: str
    user_id: str
    tz: str
    from_: str = Field(alias="from")
    to: str
    segments: list[HistorySegment]
