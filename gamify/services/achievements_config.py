"""Achievements as the admin defines them: listing, key and prerequisite checks, saving, status changes
and deletion (activation and its backfill are gamify.services.backfill's)."""

from __future__ import annotations

from typing import NamedTuple, Optional

from sqlalchemy import func

from ..extensions import db
from ..models import Achievement, AchievementCompletion, AchievementProgress, PointsTrigger
from ..models.achievements import STATUSES
from . import backfill


class Listing(NamedTuple):
    items: list
    names: dict
    counts: dict
    running: set


class DeleteBlockers(NamedTuple):
    holders: int
    dependants: list
    triggers: int


def names() -> dict[int, str]:
    return dict(db.session.execute(db.select(Achievement.id, Achievement.name)).all())


def list_by_name(include_archived: bool = True) -> list[Achievement]:
    q = db.select(Achievement).order_by(Achievement.name)
    if not include_archived:
        q = q.where(Achievement.status != "archived")
    return list(db.session.execute(q).scalars())


def listing(status: str) -> Listing:
    """The admin's list: active first then by name, only `status` when it is one; with every name (for
    composites), the count per status and the achievements being backfilled."""
    q = db.select(Achievement).order_by(Achievement.status != "active", Achievement.name)
    if status in STATUSES:
        q = q.where(Achievement.status == status)
    counts = dict(
        db.session.execute(db.select(Achievement.status, func.count(Achievement.id)).group_by(Achievement.status)).all()
    )
    return Listing(list(db.session.execute(q).scalars()), names(), counts, backfill.running_achievement_ids())


def key_taken(key: str, except_id: Optional[int] = None) -> bool:
    q = db.select(Achievement.id).where(Achievement.key == key)
    if except_id is not None:
        q = q.where(Achievement.id != except_id)
    return db.session.execute(q).first() is not None


def creates_cycle(achievement_id: int, prereq_ids: list[int]) -> bool:
    """Would these prerequisites lead back to the achievement (so nobody could ever earn it)?"""
    graph = {
        a_id: list(p or [])
        for a_id, p in db.session.execute(db.select(Achievement.id, Achievement.prerequisite_ids)).all()
    }
    graph[achievement_id] = list(prereq_ids)
    seen, stack = set(), list(prereq_ids)
    while stack:
        node = stack.pop()
        if node == achievement_id:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(graph.get(node, []))
    return False


def save(
    a: Optional[Achievement],
    *,
    name: str,
    key: str,
    description: str,
    badge: str,
    hidden: bool,
    trigger: str,
    metric_id: Optional[int],
    threshold: Optional[float],
    streak_length: Optional[int],
    prerequisite_ids: list[int],
    attribute_filters: dict,
) -> Achievement:
    """Create (`a` None: an inactive draft) or update an achievement; the settings of other triggers than
    its own are cleared. Flushed, so a new one has its id."""
    if a is None:
        a = Achievement(status="inactive", completion_count=0, rarity_pct=0.0)
        db.session.add(a)
    a.name, a.key, a.description, a.badge, a.hidden = name, key, description, badge, hidden
    a.trigger = trigger
    a.metric_id = metric_id if trigger == "metric" else None
    a.threshold = float(threshold) if trigger == "metric" and threshold is not None else None
    a.streak_length = streak_length if trigger == "streak" else None
    a.prerequisite_ids = list(prerequisite_ids) if trigger == "composite" else []
    a.attribute_filters = attribute_filters
    db.session.flush()
    return a


def set_status(a: Achievement, status: str) -> None:
    a.status = status


def points_trigger_count(achievement_id: int) -> int:
    return db.session.execute(
        db.select(func.count(PointsTrigger.id)).where(PointsTrigger.achievement_id == achievement_id)
    ).scalar_one()


def delete_blockers(a: Achievement) -> DeleteBlockers:
    """What keeps the achievement from being deleted: players holding it, achievements needing it, points
    triggers firing on it."""
    holders = db.session.execute(
        db.select(func.count(AchievementCompletion.id)).where(AchievementCompletion.achievement_id == a.id)
    ).scalar_one()
    dependants = [
        x.name for x in db.session.execute(db.select(Achievement)).scalars() if a.id in (x.prerequisite_ids or [])
    ]
    return DeleteBlockers(holders, dependants, points_trigger_count(a.id))


def delete(a: Achievement) -> None:
    """Delete with its backfill runs and progress rows (check delete_blockers first)."""
    backfill.delete_runs(a.id)
    db.session.execute(db.delete(AchievementProgress).where(AchievementProgress.achievement_id == a.id))
    db.session.delete(a)
