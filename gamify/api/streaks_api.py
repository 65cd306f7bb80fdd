"""Streak admin API routes (attached to the `api` blueprint; imported by features.py before it is
registered): the host app's freeze grants, the restore of a lost streak, and pauses.

    POST   /api/v1/users/<id>/streak/freezes              {"amount": 1, "reason": "..."}
    POST   /api/v1/users/<id>/streak/restore              {"reason": "..."}
    POST   /api/v1/users/<id>/streak/pauses               {"start": "2026-08-20", "end": "2026-08-27", "reason": "..."}
    DELETE /api/v1/users/<id>/streak/pauses/<pause id>
"""

from __future__ import annotations

from flask import g, jsonify

from ..services import streak_pauses, streaks
from . import ApiError, _known_user, bp, json_body, require_api_key
from .openapi import operation
from .schemas import streaks as s
from .schemas.base import parse


def _rules_or_409():
    if streaks.current_rules() is None:
        raise ApiError(409, "streak", "no streak is configured")


@bp.post("/users/<external_id>/streak/freezes")
@operation("Grant streak freezes", body=s.FreezeBody, responses={201: s.FreezesOut}, errors=(404, 409), tag="streaks")
@require_api_key
def user_streak_freezes(external_id: str):
    """Up to the configured maximum a player may hold (fewer are granted when it is reached; 409 naming
    `amount` when none can be). Missed periods are settled first, so the grant protects what comes."""
    body = parse(s.FreezeBody, json_body())
    user = _known_user(external_id)
    _rules_or_409()
    streaks.settle_user(user)
    granted = streaks.grant_freeze(user.id, f"api key #{g.api_key.id}: {body.reason}"[:64], body.amount)
    cap = streaks.freeze_cap()
    if granted == 0:
        raise ApiError(409, "amount", f"the player already holds the maximum of {cap} freezes")
    return jsonify(
        {
            "granted": granted,
            "requested": body.amount,
            "freezes": streaks.streak_row(user.id).freezes,
            "max_freezes": cap,
        }
    ), 201


@bp.post("/users/<external_id>/streak/restore")
@operation("Restore a lost streak", body=s.RestoreBody, responses={201: s.RestoreOut}, errors=(404, 409), tag="streaks")
@require_api_key
def user_streak_restore(external_id: str):
    """Gives the player's lost streak back at the length it had, as if the periods since had been frozen
    (it needs activity in the current period to grow), with the reason in the ledger. 409 naming `streak`
    when there is nothing to restore: no loss, a new streak already running, or restored already."""
    body = parse(s.RestoreBody, json_body())
    user = _known_user(external_id)
    try:
        done = streaks.restore(user, body.reason)
    except streaks.StreakStateError as e:
        raise ApiError(409, e.field, str(e)) from e
    return jsonify(
        {
            "restored": {
                "length": done.length,
                "lost_period_start": done.lost_period_start.isoformat(),
                "reason": done.reason,
                "created_at": done.created_at.isoformat(),
            },
            "streak": streaks.summary(user),
        }
    ), 201


@bp.post("/users/<external_id>/streak/pauses")
@operation(
    "Pause a player's streak", body=s.PauseBody, responses={201: s.PauseCreated}, errors=(404, 409), tag="streaks"
)
@require_api_key
def user_streak_pause(external_id: str):
    """From `start` to `end`, the player's local days (both included), their streak neither extends nor
    breaks and uses no freeze; in a weekly or monthly streak, every period the span touches is paused.
    400 naming `start` (before the player's today, or more than a year ahead) or `end` (before start, or
    a span over 366 days); 409 naming `start` when it overlaps one of their pauses or they have 20 open."""
    body = parse(s.PauseBody, json_body())
    user = _known_user(external_id)
    try:
        pause = streak_pauses.create(
            user, body.start, body.end, reason=body.reason or "", created_by=f"api key #{g.api_key.id}"
        )
    except streak_pauses.PauseError as e:
        raise ApiError(e.status, e.field, str(e)) from e
    return jsonify({"pause": streak_pauses.as_json(pause, user), "streak": streaks.summary(user)}), 201


@bp.delete("/users/<external_id>/streak/pauses/<pause_id>")
@operation("Delete a streak pause", responses={200: s.PauseDeleted}, errors=(404,), tag="streaks")
@require_api_key
def user_streak_unpause(external_id: str, pause_id: str):
    """Periods the pause already covered stay paused in the history; from the current period on, the
    streak needs activity again. 404 naming `pause_id` when the player has no such pause (ids are UUIDs)."""
    user = _known_user(external_id)
    pause = streak_pauses.get(pause_id)
    if pause is None or pause.user_id != user.id:
        raise ApiError(404, "pause_id", f"the player has no streak pause {pause_id}")
    streak_pauses.delete(pause)
    return jsonify({"deleted": pause.public_id, "streak": streaks.summary(user)})
