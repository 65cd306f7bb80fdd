"""Points API routes (attached to the `api` blueprint; imported by features.py before it is registered):

GET  /api/v1/users/<id>/points/<system>/awards?limit=&cursor=   award history, newest first
POST /api/v1/users/<id>/points/<system>/awards                  manual award or deduction (idempotent)
GET  /api/v1/users/<id>/points/<system>/daily?from=&to=         daily summary over the player's days
GET  /api/v1/points/<system>/levels                             how many players at each level
"""

from __future__ import annotations

from datetime import datetime

from flask import jsonify, request

from ..models import PointsSystem
from ..services import points
from ..services import points_history as history
from ..services.day_ranges import day_range
from . import ApiError, _known_user, bp, cursors, json_body, require_api_key
from .openapi import IDEMPOTENCY_HEADER, operation
from .schemas import points as s
from .schemas.base import parse, query
from .schemas.events import _idempotency_key


def _system(key: str) -> PointsSystem:
    system = points.system_by_key(key)
    if system is None:
        raise ApiError(404, "system", f"unknown points system '{key}'")
    return system


def _scope(user, system) -> str:
    return f"awards:{user.id}:{system.id}"


@bp.get("/users/<external_id>/points/<system_key>/awards")
@operation(
    "A player's points awards (newest first)",
    query=s.AwardsQuery,
    responses={200: s.AwardsOut},
    errors=(404,),
    tag="points",
)
@require_api_key
def user_points_awards(external_id: str, system_key: str):
    """The ledger of one system, a page at a time: each award's amount, base amount, boost multiplier,
    trigger and source event. Pass `next_cursor` back as `?cursor=` for older ones."""
    q = query(s.AwardsQuery, request.args)
    user = _known_user(external_id)
    system = _system(system_key)
    position = cursors.decode(_scope(user, system), q.cursor)
    before = (datetime.fromisoformat(position[0]), int(position[1])) if position else None
    rows, more = history.awards_before(user.id, system.id, q.limit, before)
    last = rows[-1] if rows else None
    return jsonify(
        {
            "user_id": user.external_id,
            "system": system.key,
            "awards": [history.award_json(a) for a in rows],
            "has_more": more,
            "next_cursor": cursors.encode(_scope(user, system), [last.awarded_at.isoformat(), last.id])
            if more and last
            else None,
        }
    )


@bp.post("/users/<external_id>/points/<system_key>/awards")
@operation(
    "Award or deduct points (manual, idempotent)",
    body=s.AwardBody,
    responses={201: s.ManualAwardOut, 202: s.ManualAwardOut},
    errors=(404, 409),
    headers=IDEMPOTENCY_HEADER,
    tag="points",
)
@require_api_key
def user_points_award(external_id: str, system_key: str):
    """Adds `amount` points (negative: takes them away) through the ledger, as an admin correction: no
    boosts or daily cap; a balance never goes below 0 (409 naming `amount`). 201 for a new award; the same
    idempotency key again answers the first award with 202 and `idempotent_replayed: true`, and 409
    (naming `idempotency_key`) if the amount or reason differ."""
    body = parse(s.AwardBody, json_body())
    key = body.idempotency_key or _header_key()
    user = _known_user(external_id)
    system = _system(system_key)
    try:
        done = history.manual_award(user, system, body.amount, body.reason, key)
    except history.PointsConflict as e:
        raise ApiError(409, e.field, str(e)) from e
    return jsonify(
        {
            "award": history.award_json(done.award),
            "points": points.summary(user, system),
            "level_changed": done.level_changed,
            "idempotent_replayed": done.replayed,
        }
    ), (202 if done.replayed else 201)


def _header_key():
    """The Idempotency-Key header, checked as the body's field is (400 naming it)."""
    return _idempotency_key(request.headers.get("Idempotency-Key"), "Idempotency-Key")


@bp.get("/users/<external_id>/points/<system_key>/daily")
@operation(
    "A player's points per day over a range of days",
    query=s.DailyQuery,
    responses={200: s.DailyOut},
    errors=(404,),
    tag="points",
)
@require_api_key
def user_points_daily(external_id: str, system_key: str):
    """Every local day of the player's from `from` to `to` (at most 366; 30 when one or both are left out,
    ending with the player's today when both are):
    points earned, taken away, the net change, how many awards and the balance at the end of the day."""
    q = query(s.DailyQuery, request.args)
    user = _known_user(external_id)
    system = _system(system_key)
    start, end = day_range(user, q.from_, q.to)
    return jsonify(
        {
            "user_id": user.external_id,
            "system": system.key,
            "tz": user.timezone,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "days": history.daily(user, system, start, end),
        }
    )


@bp.get("/points/<system_key>/levels")
@operation("How many players are at each level", responses={200: s.LevelsOut}, errors=(404,), tag="points")
@require_api_key
def points_levels(system_key: str):
    return jsonify(history.level_summary(_system(system_key)))
