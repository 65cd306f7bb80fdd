"""Trophy's points.

GET /trophy/v1/users/{id}/points/{key}?awards=10   the user's total, level and recent awards
GET /trophy/v1/users/{id}/points/{key}/boosts      the boosts live for the user now
GET /trophy/v1/points/{key}                        the system and its active triggers
GET /trophy/v1/points/{key}/boosts                 its boosts (includeFinished=true: past ones too)
GET /trophy/v1/points/{key}/levels                 its levels
GET /trophy/v1/points/{key}/level-summary          how many users are at each level
GET /trophy/v1/points/{key}/summary                how many users hold how many points (11 ranges)
"""

from __future__ import annotations

from ..engine import points as engine
from ..engine.filters import matches
from ..extensions import db
from ..models import PointsBalance, PointsBoost, PointsSystem, PointsTrigger, User
from ..models._common import utcnow
from ..services import points as svc
from ..services import points_history, summaries
from . import schemas as s
from . import shapes
from .achievements import attribute_pairs
from .base import TrophyError, answer, bp, not_found, query, require_key
from .metrics import check_window, summary_out
from .users import known_user


def known_system(key: str) -> PointsSystem:
    system = svc.system_by_key(key)
    if system is None:
        raise not_found("points system", key)
    return system


@bp.get("/users/<external_id>/points/<key>")
@require_key
def user_points(external_id: str, key: str):
    user = known_user(external_id)
    system = known_system(key)
    q = query(s.AwardsQuery)
    total = svc.balance_of(user.id, system.id)
    level = engine.level_for(list(system.levels), total)
    return answer(
        s.UserPointsOut(
            **shapes.points_fields(system),
            total=total,
            level=shapes.level_out(level) if level else None,
            awards=shapes.award_outs(user.id, system, shapes.recent_awards(user.id, system.id, q.awards)),
        )
    )


@bp.get("/users/<external_id>/points/<key>/boosts")
@require_key
def user_boosts(external_id: str, key: str):
    user = known_user(external_id)
    system = known_system(key)
    now = utcnow()
    live = {b.id for b in svc.active_boosts(system.id, dict(user.attributes or {}), now)}
    rows = db.session.execute(db.select(PointsBoost).where(PointsBoost.id.in_(live or {-1})).order_by(PointsBoost.id))
    return answer([shapes.boost_out(b, now) for b in rows.scalars()])


@bp.get("/users/<external_id>/points/<key>/event-summary")
@require_key
def user_points_summary(external_id: str, key: str):
    user = known_user(external_id)
    system = known_system(key)
    q = query(s.SummaryQuery)
    check_window(q)
    return answer(summary_out(summaries.points_summary(user, system, q.aggregation, q.start_date, q.end_date)))


@bp.get("/points/<key>")
@require_key
def points_system(key: str):
    system = known_system(key)
    triggers = db.session.execute(
        db.select(PointsTrigger)
        .where(PointsTrigger.system_id == system.id, PointsTrigger.active.is_(True))
        .order_by(PointsTrigger.id)
    ).scalars()
    fields = shapes.points_fields(system)
    del fields["key"]  # PointsSystemResponse names no key
    return answer(s.PointsSystemOut(**fields, triggers=[shapes.trigger_out(t) for t in triggers]))


@bp.get("/points/<key>/boosts")
@require_key
def points_boosts(key: str):
    system = known_system(key)
    q = query(s.FinishedQuery)
    now = utcnow()
    boosts = db.session.execute(
        db.select(PointsBoost).where(PointsBoost.system_id == system.id).order_by(PointsBoost.starts_at, PointsBoost.id)
    ).scalars()
    shown = [b for b in boosts if q.include_finished or shapes.boost_status(b, now) != "finished"]
    return answer([shapes.boost_out(b, now) for b in shown])


@bp.get("/points/<key>/levels")
@require_key
def points_levels(key: str):
    return answer([shapes.level_out(lv) for lv in known_system(key).levels])


@bp.get("/points/<key>/level-summary")
@require_key
def level_summary(key: str):
    system = known_system(key)
    levels = list(system.levels)
    if not levels:
        raise TrophyError(422, f"points system '{key}' has no levels")
    counts = {lv["key"]: lv["players"] for lv in points_history.level_summary(system)["levels"]}
    return answer([s.LevelCountOut(level=shapes.level_out(lv), users=counts.get(lv.key, 0)) for lv in levels])


def ranges(balances: list[int], players: int) -> list[s.PointsRangeOut]:
    """Trophy's 11 ranges: 0 alone, then ten equal ranges from 1 up to the largest balance rounded up
    to a power of ten (players without points count in the first)."""
    top = 10
    while top < max(balances, default=0):
        top *= 10
    width = top // 10
    counts = [0] * 10
    for b in balances:
        counts[min((b - 1) // width, 9)] += 1
    out = [s.PointsRangeOut(from_=0, to=0, users=players - len(balances))]
    return out + [s.PointsRangeOut(from_=1 + i * width, to=(i + 1) * width, users=counts[i]) for i in range(10)]


@bp.get("/points/<key>/summary")
@require_key
def points_summary(key: str):
    """Players with a positive balance by range; with userAttributes, only players with all of them."""
    system = known_system(key)
    q = query(s.UserAttributesQuery)
    attrs = attribute_pairs(q.user_attributes) if q.user_attributes else None
    rows = db.session.execute(
        db.select(User.attributes, db.func.coalesce(PointsBalance.balance, 0))
        .outerjoin(PointsBalance, (PointsBalance.user_id == User.id) & (PointsBalance.system_id == system.id))
        .where(User.role == "player")
    ).all()
    if attrs is not None:
        rows = [r for r in rows if matches(attrs, r[0])]
    return answer(ranges([b for _a, b in rows if b > 0], len(rows)))
