"""A player's metric and points over time: per day, week (ISO, Monday first) or month of their local
calendar, the change in each period and the running total at its end, from the ledgers (metric events
carry the player's local date, points awards too). Whole periods only: a window that starts or ends
inside a week or month is widened to it, so every change covers its whole period."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import func

from ..engine import calendar as cal
from ..extensions import db
from ..models import MetricEvent, PointsAward

MAX_DAYS = 400


class SummaryPoint(NamedTuple):
    start: date  # the period's first local date
    total: float  # the running total at the end of the period
    change: float  # what the period added


def _buckets(frequency: str, first: date, last: date, base: float, by_day: dict[date, float]) -> list[SummaryPoint]:
    out, total = [], base
    start = cal.period_start(frequency, first)
    while start <= last:
        end = cal.period_end(frequency, start)
        change = sum(v for d, v in by_day.items() if start <= d <= end)
        total += change
        out.append(SummaryPoint(start, total, change))
        start = cal.next_period_start(frequency, start)
    return out


def _series(column, day_column, where: tuple, frequency: str, first: date, last: date) -> list[SummaryPoint]:
    lo = cal.period_start(frequency, first)
    hi = cal.period_end(frequency, cal.period_start(frequency, last))
    base = db.session.execute(db.select(func.coalesce(func.sum(column), 0)).where(*where, day_column < lo)).scalar_one()
    rows = db.session.execute(
        db.select(day_column, func.sum(column)).where(*where, day_column >= lo, day_column <= hi).group_by(day_column)
    ).all()
    return _buckets(frequency, lo, hi, float(base), {d: float(v) for d, v in rows})


def metric_summary(user_id: int, metric_id: int, frequency: str, first: date, last: date) -> list[SummaryPoint]:
    """The player's metric per period from `first` to `last` (local dates)."""
    where = (MetricEvent.user_id == user_id, MetricEvent.metric_id == metric_id)
    return _series(MetricEvent.value, MetricEvent.local_date, where, frequency, first, last)


def points_summary(user_id: int, system_id: int, frequency: str, first: date, last: date) -> list[SummaryPoint]:
    """The player's balance in a points system per period (every change of a balance is an award row)."""
    where = (PointsAward.user_id == user_id, PointsAward.system_id == system_id)
    return _series(PointsAward.amount, PointsAward.local_date, where, frequency, first, last)
