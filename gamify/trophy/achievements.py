"""Trophy's achievements.

GET  /trophy/v1/achievements                  every achievement with completions and rarity
POST /trophy/v1/achievements/{key}/complete   complete an API achievement for a user: 201 (202 if held)
GET  /trophy/v1/users/{id}/achievements       the user's (includeIncomplete=true: all shown to them)
"""

from __future__ import annotations

from ..engine.filters import matches
from ..extensions import db
from ..models import Achievement, PointsAward
from ..models._common import utcnow
from ..services import achievements as svc
from . import schemas as s
from . import shapes
from .base import TrophyError, answer, body, bp, not_found, query, require_key
from .users import identify, known_user


def attribute_pairs(raw) -> dict[str, str]:
    """Trophy's `userAttributes` query value "plan:premium,region:us-east" as a dict."""
    out: dict[str, str] = {}
    for part in (raw or "").split(","):
        key, sep, value = part.partition(":")
        if not sep or not key.strip():
            raise TrophyError(422, "userAttributes must be attribute:value pairs separated by commas")
        out[key.strip()] = value.strip()
    return out


def _listed() -> list[Achievement]:
    return list(
        db.session.execute(
            db.select(Achievement).where(Achievement.status.in_(("active", "locked"))).order_by(Achievement.id)
        ).scalars()
    )


@bp.get("/achievements")
@require_key
def all_achievements():
    """Achievements players can see (hidden ones are left out: players see them only once earned);
    with userAttributes, only those whose attribute filters such a user meets."""
    q = query(s.UserAttributesQuery)
    attrs = attribute_pairs(q.user_attributes) if q.user_attributes else None
    shown = [a for a in _listed() if not a.hidden and (attrs is None or matches(a.attribute_filters, attrs))]
    return answer([shapes.achievement_with_stats(a) for a in shown])


@bp.post("/achievements/<key>/complete")
@require_key
def complete(key: str):
    data = body(s.CompleteIn, shape_status=422)  # this operation declares no 400
    achievement = svc.by_key(key)
    if achievement is None:
        raise not_found("achievement", key)
    user, _created = identify(data.user.id, data.user)
    now = utcnow()
    created, _unlocked, awarded = svc.complete_via_api(user, achievement, now)
    db.session.commit()
    completion = shapes.completions_of(user.id, [achievement.id])[achievement.id]
    awards = list(
        db.session.execute(
            db.select(PointsAward).where(
                PointsAward.user_id == user.id,
                PointsAward.source_event_id.is_(None),
                PointsAward.trigger_type == "achievement",
                PointsAward.awarded_at == now,
            )
        ).scalars()
    )
    out = s.CompletionOut(
        completion_id=str(completion.id),
        achievement=shapes.user_achievement(achievement, completion),
        points=shapes.event_points(user, awarded, awards, replayed=False) if created else {},
    )
    return answer(out, 201 if created else 202)


@bp.get("/users/<external_id>/achievements")
@require_key
def user_achievements(external_id: str):
    """The user's completed achievements, oldest first; with includeIncomplete=true also the ones they
    can still earn (as on their achievements page)."""
    user = known_user(external_id)
    q = query(s.AchievementsQuery)
    done = shapes.completions_of(user.id)
    held = sorted(done.values(), key=lambda c: (c.completed_at, c.id))
    out = [shapes.user_achievement_with_stats(c.achievement, c) for c in held]
    if q.include_incomplete == "true":
        out += [shapes.user_achievement_with_stats(a, None) for a in _listed() if a.id not in done and not a.hidden]
    return answer(out)
