"""Achievement funnels: for each achievement, how far players who do not hold it have got (0–25, 25–50,
50–75, 75–100 % of its target), how many hold it, and the median time from a player's first sighting
to completing it. Progress is what the player's page shows (services/achievements.progress_for):
a metric's total (or the filtered running value), the longest streak, prerequisites held; an
achievement granted through the API has no progress, so everyone without it is at 0–25 %.
This is a snapshot of the current state (one grouped query per achievement), not a rollup."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import case, func, literal, literal_column

from ..extensions import db
from ..models import (
    Achievement,
    AchievementCompletion,
    AchievementProgress,
    MetricTotal,
    User,
    UserStreak,
)
from ..models.users import ROLE_PLAYER
from . import achievements

BUCKETS = ("0–25%", "25–50%", "50–75%", "75–100%")


@dataclass
class Funnel:
    achievement: Achievement
    players: int
    buckets: list[int]  # players without it, per BUCKETS
    completed: int
    median_days: Optional[float]
    # The bucket above 0–25 % holding the most players: where those who started stall.
    stall: Optional[str] = field(default=None)

    @property
    def label(self) -> str:
        return f"{self.achievement.badge} {self.achievement.name}".strip()

    def shares(self) -> list[float]:
        return [100.0 * n / self.players if self.players else 0.0 for n in self.buckets + [self.completed]]


def _values(a: Achievement):
    """(user_id, value) of the players' progress towards `a`, or None when it has none."""
    if a.trigger == "metric" and a.attribute_filters:
        return db.select(AchievementProgress.user_id, AchievementProgress.value.label("v")).where(
            AchievementProgress.achievement_id == a.id
        )
    if a.trigger == "metric":
        return db.select(MetricTotal.user_id, MetricTotal.total.label("v")).where(MetricTotal.metric_id == a.metric_id)
    if a.trigger == "streak":
        return db.select(UserStreak.user_id, UserStreak.longest.label("v"))
    if a.trigger == "composite" and a.prerequisite_ids:
        return (
            db.select(AchievementCompletion.user_id, func.count(AchievementCompletion.id).label("v"))
            .where(AchievementCompletion.achievement_id.in_(a.prerequisite_ids))
            .group_by(AchievementCompletion.user_id)
        )
    return None


def funnel(a: Achievement, players: int) -> Funnel:
    held = db.select(AchievementCompletion.user_id).where(AchievementCompletion.achievement_id == a.id)
    completed = db.session.execute(
        db.select(func.count(func.distinct(AchievementCompletion.user_id)))
        .join(User, User.id == AchievementCompletion.user_id)
        .where(AchievementCompletion.achievement_id == a.id, User.role == ROLE_PLAYER)
    ).scalar_one()
    buckets = [0, 0, 0, 0]
    target = a.target
    values = _values(a)
    if values is not None and target:
        v = values.subquery()
        # Literal fractions, not bound parameters: PostgreSQL must see the GROUP BY expression as selected.
        ratio = v.c.v / literal(float(target), literal_execute=True)
        bucket = case(
            (ratio >= literal_column("0.75"), 3),
            (ratio >= literal_column("0.5"), 2),
            (ratio >= literal_column("0.25"), 1),
            else_=0,
        ).label("bucket")
        for b, n in db.session.execute(
            db.select(bucket, func.count())
            .join(User, User.id == v.c.user_id)
            .where(User.role == ROLE_PLAYER, v.c.user_id.not_in(held))
            .group_by(literal_column("bucket"))
        ):
            buckets[int(b)] += n
    buckets[0] = max(players - completed - sum(buckets[1:]), 0)

    durations = [
        (done - first).total_seconds() / 86400
        for done, first in db.session.execute(
            db.select(AchievementCompletion.completed_at, User.created_at)
            .join(User, User.id == AchievementCompletion.user_id)
            .where(
                AchievementCompletion.achievement_id == a.id,
                AchievementCompletion.backdated.is_(False),
                User.role == ROLE_PLAYER,
            )
        )
        if done is not None and first is not None
    ]
    median = round(statistics.median(durations), 1) if durations else None
    started = list(zip(BUCKETS[1:], buckets[1:]))
    stall = max(started, key=lambda x: x[1])[0] if any(n for _, n in started) else None
    return Funnel(a, players, buckets, completed, median, stall)


def funnels() -> list[Funnel]:
    players = achievements.player_count()
    return [
        funnel(a, players)
        for a in db.session.execute(
            db.select(Achievement).where(Achievement.status != "inactive").order_by(Achievement.name)
        ).scalars()
    ]
