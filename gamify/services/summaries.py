"""A player's metric and points over time by day, week (ISO, Monday first) or month of their local
calendar: the change in each period and the running total at its end. Whole periods only: a window that
starts or ends inside a week or month is widened to it, so every change covers its whole period.

Days come from the ledgers: metric events carry the player's local date (summed here), points per day
are points_history.daily's (the one daily points summary, also behind /api/v1)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import func

from ..engine import calendar as cal
from ..extensions import db
from ..models import MetricEvent, PointsSystem, User
from . import points_history
from .day_ranges import MAX_DAYS as DAILY_MAX_DAYS

MAX_DAYS = 400  # the longest window asked for (Trophy's limit)


class SummaryPoint(NamedTuple):
    start: date  # the period's first local date
    total: float  # the running total at the end of the period
    change: float  # what the period added


def window(frequency: str, first: date, last: date) -> tuple[date, date]:
    """The whole periods covering first..last: (first day of the first, last day of the last)."""
    return cal.period_start(frequency, first), cal.period_end(frequency, cal.period_start(frequency, last))


def by_period(frequency: str, days: list[tuple[date, float, float]]) -> list[SummaryPoint]:
    """Consecutive (day, change, total at its end) rows, oldest first, summed per period."""
    out: list[SummaryPoint] = []
    for day, change, total in days:
        start = cal.period_start(frequency, day)
        if out and out[-1].start == start:
            out[-1] = SummaryPoint(start, total, out[-1].change + change)
        else:
            out.append(SummaryPoint(start, total, change))
    return out


def metric_summary(user_id: int, metric_id: int, frequency: str, first: date, last: date) -> list[SummaryPoint]:
    """The player's metric per period from `first` to `last` (local dates)."""
    lo, hi = window(frequency, first, last)
    mine = (MetricEvent.user_id == user_id, MetricEvent.metric_id == metric_id)
    total = float(
        db.session.execute(
            db.select(func.coalesce(func.sum(MetricEvent.value), 0)).where(*mine, MetricEvent.local_date < lo)
        ).scalar_one()
    )
    changes = dict(
        db.session.execute(
            db.select(MetricEvent.local_date, func.sum(MetricEvent.value))
            .where(*mine, MetricEvent.local_date >= lo, MetricEvent.local_date <= hi)
            .group_by(MetricEvent.local_date)
        ).all()
    )
    days = []
    day = lo
    while day <= hi:
        change = float(changes.get(day, 0.0))
        total += change
        days.append((day, change, total))
        day += timedelta(days=1)
    return by_period(frequency, days)


def points_summary(user: User, system: PointsSystem, frequency: str, first: date, last: date) -> list[SummaryPoint]:
    """The player's balance in a points system per period (from points_history.daily, a year at a time)."""
    lo, hi = window(frequency, first, last)
    days = []
    start = lo
    while start <= hi:
        end = min(hi, start + timedelta(days=DAILY_MAX_DAYS - 1))
        days += [
            (date.fromisoformat(d["date"]), float(d["net"]), float(d["balance"]))
            for d in points_history.daily(user, system, start, end)
        ]
        start = end + timedelta(days=1)
    return by_period(frequency, days)
