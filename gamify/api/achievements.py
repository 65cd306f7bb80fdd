"""Achievement API routes (attached to the `api` blueprint; imported by features.py before it is
registered): a player's progress on every achievement, one achievement's details.

    GET /api/v1/users/<id>/achievements/progress?status=completed|incomplete|locked
    GET /api/v1/achievements/<key>?user_id=
"""

from __future__ import annotations

from flask import jsonify, request

from ..services import achievement_progress as progress
from ..services import achievements as achievements_svc
from . import ApiError, _known_user, bp, require_api_key
from .openapi import operation
from .schemas import achievements as s
from .schemas.base import query


@bp.get("/users/<external_id>/achievements/progress")
@operation(
    "A player's progress on every achievement",
    query=s.ProgressQuery,
    responses={200: s.ProgressOut},
    errors=(404,),
    tag="achievements",
)
@require_api_key
def user_achievement_progress(external_id: str):
    """Every achievement the player's page shows, completed ones first (newest first), then incomplete
    ones (closest to done first), then locked ones; hidden ones masked until earned."""
    status = query(s.ProgressQuery, request.args).status
    user = _known_user(external_id)
    return jsonify({"user_id": user.external_id, "achievements": progress.for_player(user, status)})


@bp.get("/achievements/<key>")
@operation(
    "An achievement: rarity, completion count (and a player's progress)",
    query=s.DetailsQuery,
    responses={200: s.AchievementDetails},
    errors=(404,),
    tag="achievements",
)
@require_api_key
def achievement_details(key: str):
    uid = query(s.DetailsQuery, request.args).user_id
    achievement = achievements_svc.by_key(key)
    if not progress.visible(achievement):
        raise ApiError(404, "key", f"unknown achievement '{key}'")
    user = _known_user(uid) if uid is not None else None
    return jsonify(progress.details(achievement, user))
