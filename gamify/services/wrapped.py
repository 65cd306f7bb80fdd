"""A player's year in review ("wrapped"): how many days, weeks and months they were active, their most
active day, week and month and the whole year, each with what their metrics and points did, the
achievements they earned and the best ranks they reached; and their longest streak of the year.

Everything comes from the ledgers on the player's local calendar (metric events and points awards carry
its local date; completions and rank changes are placed on it by their time). "Most active" means the
most metric events; ties go to the earliest. Totals are at the end of each period, and the percent change
compares the period's change with the total before it (0 when there was none before).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Optional

from ..engine import calendar as cal
from ..extensions import db
from ..models import (
    AchievementCompletion,
    LeaderboardRankChange,
    MetricEvent,
    PointsAward,
    StreakPeriod,
    User,
)


@dataclass
class Change:
    """A quantity over a period: its total at the end, what the period added, that as a percentage of
    the total before."""

    total: float
    change: float

    @property
    def percent(self) -> float:
        before = self.total - self.change
        return round(100.0 * self.change / before, 1) if before else 0.0


@dataclass
class Period:
    start: date
    end: date
    metrics: dict[int, Change] = field(default_factory=dict)  # metric id ->
    by_attribute: dict[int, dict[str, dict[str, Change]]] = field(default_factory=dict)  # metric -> attr -> value
    points: dict[int, Change] = field(default_factory=dict)  # system id ->
    completions: list[AchievementCompletion] = field(default_factory=list)
    best_ranks: dict[int, int] = field(default_factory=dict)  # leaderboard id -> best whole-board rank


@dataclass
class LongestStreak:
    length: int
    period_start: Optional[date]
    period_end: Optional[date]
    started: Optional[date]


@dataclass
class Wrapped:
    year: int
    days_active: int
    weeks_active: int
    months_active: int
    day: Period
    week: Period
    month: Period
    entire_year: Period
    longest_streak: LongestStreak


def _most_active(frequency: str, counts: dict[date, int], first: date) -> tuple[date, date]:
    """The period of `frequency` with the most events (the earliest on a tie; the year's first without any)."""
    per: dict[date, int] = {}
    for day, n in counts.items():
        start = cal.period_start(frequency, day)
        per[start] = per.get(start, 0) + n
    best = min(per, key=lambda s: (-per[s], s)) if per else cal.period_start(frequency, first)
    return best, cal.period_end(frequency, best)


def year_in_review(user: User, year: int, now: datetime) -> Wrapped:
    first, last = date(year, 1, 1), date(year, 12, 31)
    events = db.session.execute(
        db.select(MetricEvent.metric_id, MetricEvent.local_date, MetricEvent.value, MetricEvent.attributes).where(
            MetricEvent.user_id == user.id, MetricEvent.local_date <= last
        )
    ).all()
    awards = db.session.execute(
        db.select(PointsAward.system_id, PointsAward.local_date, PointsAward.amount).where(
            PointsAward.user_id == user.id, PointsAward.local_date <= last
        )
    ).all()
    counts: dict[date, int] = {}
    for _m, day, _v, _a in events:
        if day >= first:
            counts[day] = counts.get(day, 0) + 1
    periods = []
    for frequency in ("daily", "weekly", "monthly"):
        start, end = _most_active(frequency, counts, first)
        periods.append(_period(user, start, end, events, awards))
    whole = _period(user, first, last, events, awards)
    return Wrapped(
        year=year,
        days_active=len(counts),
        weeks_active=len({cal.period_start("weekly", d) for d in counts}),
        months_active=len({(d.year, d.month) for d in counts}),
        day=periods[0],
        week=periods[1],
        month=periods[2],
        entire_year=whole,
        longest_streak=_longest_streak(user.id, first, last),
    )


def _period(user: User, start: date, end: date, events: list, awards: list) -> Period:
    p = Period(start, end)
    for metric_id, day, value, attributes in events:
        if day > end:
            continue
        inside = day >= start
        c = p.metrics.setdefault(metric_id, Change(0.0, 0.0))
        c.total += value
        c.change += value if inside else 0.0
        for key, raw in (attributes or {}).items():
            if raw is None:
                continue
            a = p.by_attribute.setdefault(metric_id, {}).setdefault(key, {}).setdefault(str(raw), Change(0.0, 0.0))
            a.total += value
            a.change += value if inside else 0.0
    for system_id, day, amount in awards:
        if day > end:
            continue
        c = p.points.setdefault(system_id, Change(0.0, 0.0))
        c.total += amount
        c.change += amount if start <= day else 0
    since = cal.local_midnight_utc(start, user.timezone)
    until = cal.local_midnight_utc(cal.next_period_start("daily", end), user.timezone)
    p.completions = list(
        db.session.execute(
            db.select(AchievementCompletion)
            .where(
                AchievementCompletion.user_id == user.id,
                AchievementCompletion.completed_at >= since,
                AchievementCompletion.completed_at < until,
            )
            .order_by(AchievementCompletion.completed_at, AchievementCompletion.id)
        ).scalars()
    )
    best = db.session.execute(
        db.select(LeaderboardRankChange.leaderboard_id, db.func.min(LeaderboardRankChange.new_rank))
        .where(
            LeaderboardRankChange.user_id == user.id,
            LeaderboardRankChange.segment == "global",
            LeaderboardRankChange.new_rank.is_not(None),
            LeaderboardRankChange.occurred_at >= since,
            LeaderboardRankChange.occurred_at < until,
        )
        .group_by(LeaderboardRankChange.leaderboard_id)
    ).all()
    p.best_ranks = dict(best)
    return p


def _longest_streak(user_id: int, first: date, last: date) -> LongestStreak:
    """The longest length the streak reached in a period of the year, that period, and the first period
    of that run (the latest period before it where the streak was at 1)."""
    rows = list(
        db.session.execute(
            db.select(StreakPeriod)
            .where(StreakPeriod.user_id == user_id, StreakPeriod.outcome == "extended")
            .where(StreakPeriod.period_start <= last)
            .order_by(StreakPeriod.period_start)
        ).scalars()
    )
    in_year = [r for r in rows if r.period_start >= first]
    if not in_year:
        return LongestStreak(0, None, None, None)
    top = max(in_year, key=lambda r: (r.length, -r.period_start.toordinal()))
    starts = [r.period_start for r in rows if r.period_start <= top.period_start and r.length == 1]
    started = starts[-1] if starts else None
    return LongestStreak(top.length, top.period_start, top.period_end, started)
