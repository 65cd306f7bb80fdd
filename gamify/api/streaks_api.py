"""Streak admin API routes (attached to the `api` blueprint; imported by features.py before it is
registered): the host app's freeze grants and the restore of a lost streak.

    POST /api/v1/users/<id>/streak/freezes   {"amount": 1, "reason": "..."}
    POST /api/v1/users/<id>/streak/restore   {"reason": "..."}
"""

from __future__ import annotations

from flask import g, jsonify

from ..services import streaks
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
