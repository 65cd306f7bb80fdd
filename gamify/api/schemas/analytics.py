"""Shapes of the analytics API: the figures of the admin's analytics pages, for the host's own dashboards."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import Field

from ... import params
from ...services import analytics_points, analytics_series
from .base import In, Out, _query_int, checked


def _days(value: Any, field: str) -> int:
    n = params.whole(value, 1, 366) if isinstance(value, str) else None
    if n not in analytics_series.RANGES:
        raise params.BadInput(field, f"{field} must be one of {', '.join(map(str, analytics_series.RANGES))}")
    return n


def _grain(value: Any, field: str) -> str:
    if value not in analytics_series.GRAINS:
        raise params.BadInput(field, f"{field} must be one of {', '.join(analytics_series.GRAINS)}")
    return value


def _edges(value: Any, field: str) -> list:
    edges = analytics_points.parse_edges(value) if isinstance(value, str) else None
    if edges is None:
        raise params.BadInput(field, f"{field} must be whole numbers separated by commas, e.g. 0,100,500")
    return edges


class TrendsQuery(In):
    days: Annotated[int, checked(_days), Field(description="7, 30 or 90 days ending today (UTC).")] = 30
    grain: Annotated[str, checked(_grain), Field(description="day, or week (weeks start on Monday).")] = "day"


class RetentionQuery(In):
    weeks: _query_int(1, 26) = Field(12, description="Signup cohorts of this many weeks, the current one included.")


class BalancesQuery(In):
    edges: Annotated[
        Optional[list], checked(_edges), Field(description="Where buckets start, e.g. 0,100,500 (default: levels).")
    ] = None


class SeriesOut(Out):
    name: str
    values: list[Optional[float]] = Field(description="One per period.")


class ChartOut(Out):
    id: str
    title: str
    unit: str
    periods: list[str] = Field(description="Days, or the Monday of each week (YYYY-MM-DD).")
    series: list[SeriesOut]


class TrendsOut(Out):
    days: int
    grain: str
    first: str
    last: str
    charts: list[ChartOut]


class RateOut(Out):
    retained: int
    players: int
    rate: Optional[float] = Field(description="retained / players, 0..1 (null: no player).")


class DifferenceOut(Out):
    value: float = Field(description="Gamified − control, as a proportion.")
    low: float = Field(description="95 % interval (Newcombe's hybrid score).")
    high: float


class RetentionDayOut(Out):
    day: int
    gamified: RateOut
    control: RateOut
    difference: Optional[DifferenceOut]


class CohortGroupOut(Out):
    players: int
    d1: RateOut
    d7: RateOut
    d30: RateOut
    weeks: list[Optional[RateOut]] = Field(description="Week k after signup; null until that week is over.")


class CohortOut(Out):
    week: str
    gamified: CohortGroupOut
    control: CohortGroupOut


class RetentionOut(Out):
    last_day: str = Field(description="The last day counted (yesterday, UTC).")
    summary: list[RetentionDayOut]
    curves: dict[str, list[Optional[float]]] = Field(description="gamified/control: retention % on days 0..30.")
    cohorts: list[CohortOut]


class FunnelOut(Out):
    key: str
    name: str
    players: int
    bands: dict[str, int] = Field(description="Players without it per share of its target reached.")
    completed: int
    median_days_to_complete: Optional[float]


class FunnelsOut(Out):
    achievements: list[FunnelOut]


class BucketOut(Out):
    label: str
    players: int


class BalancesOut(Out):
    system: str
    edges: list[int]
    buckets: list[BucketOut]
