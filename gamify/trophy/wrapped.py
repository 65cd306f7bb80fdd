"""Trophy's wrapped: a user's year in review (services/wrapped.py) in Trophy's shape.

GET /trophy/v1/users/{id}/wrapped?year=2025
"""

from __future__ import annotations

from datetime import datetime

from ..engine import calendar as cal
from ..extensions import db
from ..models import Leaderboard, Metric, PointsSystem
from ..models._common import utcnow
from ..services import streaks
from ..services import wrapped as svc
from . import schemas as s
from . import schemas_wrapped as w
from . import shapes
from .base import TrophyError, answer, bp, query, require_key
from .users import known_user


@bp.get("/users/<external_id>/wrapped")
@require_key
def user_wrapped(external_id: str):
    user = known_user(external_id)
    q = query(s.WrappedQuery)
    now = utcnow()
    this_year = cal.local_date(now, user.timezone).year
    year = q.year if q.year is not None else this_year
    if year > this_year:
        raise TrophyError(422, f"year must be at most {this_year}")
    review = svc.year_in_review(user, year, now)
    names = _Names()
    activity = w.WrappedActivityOut(
        days_active=review.days_active,
        weeks_active=review.weeks_active,
        months_active=review.months_active,
        most_active_day=w.WrappedDayOut(**_period(review.day, names, now), date=review.day.start.isoformat()),
        most_active_week=w.WrappedWeekOut(
            **_period(review.week, names, now), start=review.week.start.isoformat(), end=review.week.end.isoformat()
        ),
        most_active_month=w.WrappedMonthOut(**_period(review.month, names, now), month=review.month.start.month - 1),
        entire_year=w.WrappedYearOut(
            **_period(review.entire_year, names, now), longest_streak=_streak(review.longest_streak)
        ),
    )
    return answer(w.WrappedOut(user=shapes.user_out(user), activity=activity))


class _Names:
    """Metrics, systems and boards by id, read once."""

    def __init__(self):
        self.metrics = {m.id: m for m in db.session.execute(db.select(Metric)).scalars()}
        self.systems = {p.id: p for p in db.session.execute(db.select(PointsSystem)).scalars()}
        self.boards = {b.id: b for b in db.session.execute(db.select(Leaderboard)).scalars()}


def _change(name: str, units, c: svc.Change) -> dict:
    return {
        "name": name,
        "units": units or None,
        "current_total": c.total,
        "change_this_period": c.change,
        "percent_change": c.percent,
    }


def _period(p: svc.Period, names: _Names, now: datetime) -> dict:
    metrics = {}
    for metric_id, c in p.metrics.items():
        m = names.metrics[metric_id]
        by_attribute = {
            key: {value: w.WrappedAttributeOut(**_change(m.name, m.unit, a)) for value, a in values.items()}
            for key, values in p.by_attribute.get(metric_id, {}).items()
        }
        metrics[m.key] = w.WrappedMetricOut(**_change(m.name, m.unit, c), by_attribute=by_attribute)
    points = {}
    for system_id, c in p.points.items():
        system = names.systems[system_id]
        fields = _change(system.name, None, c)
        del fields["units"]
        points[system.key] = w.WrappedPointsOut(**fields)
    boards = {}
    for board_id, rank in p.best_ranks.items():
        board = names.boards.get(board_id)
        if board is not None:  # the best rank reached; gamify keeps no value with each rank change
            boards[board.key] = w.UserBoardOut(**shapes.board_fields(board, now), rank=rank, value=None)
    return {
        "metrics": metrics,
        "points": points,
        "achievements": [shapes.user_achievement(c.achievement, c) for c in p.completions],
        "leaderboards": boards,
    }


def _streak(longest: svc.LongestStreak) -> w.WrappedStreakOut:
    return w.WrappedStreakOut(
        length=longest.length,
        frequency=shapes.streak_frequency(streaks.current_rules()),
        period_start=longest.period_start.isoformat() if longest.period_start else None,
        period_end=longest.period_end.isoformat() if longest.period_end else None,
        started=longest.started.isoformat() if longest.started else None,
    )
