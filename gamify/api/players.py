"""Players in bulk and data erasure over the JSON API, attached to the shared `api` blueprint (/api/v1;
imported by features.py before the blueprint is registered).

    POST   /users        identify up to 100 players (one result each; a refused one sinks nothing else)
    DELETE /users/<id>   erase a player and every row that references them (services/erasure.py)
"""

from __future__ import annotations

from flask import jsonify

from .. import params
from ..services import erasure, users
from ..services.erasure import ErasureError
from . import _known_user, _user_json, bp, error_response, json_body, profile_fields, require_api_key
from .openapi import operation
from .schemas import players as s
from .schemas.base import parse


@bp.errorhandler(ErasureError)
def _erasure_error(e: ErasureError):
    return error_response(e.status, e.field, str(e))


@bp.post("/users")
@operation(
    "Create or update up to 100 players", body=s.BulkIdentifyBody, responses={200: s.BulkIdentifyOut}, tag="players"
)
@require_api_key
def bulk_identify():
    """Each item is the single identify's body plus its `id`. Answers 200 with one result per item, in
    order: the player (as GET /users/<id>) plus "status" (201 created, 200 updated), or that item's error
    ({"status": 400, "error": {...}}). Each item is written in a savepoint: a refused one leaves nothing
    behind and does not sink the others. A player named twice is identified twice, in order."""
    items = parse(s.BulkIdentifyBody, json_body()).users  # a refused item is a BadInput in its place
    results: list = [None] * len(items)
    valid = []
    for i, item in enumerate(items):
        if isinstance(item, params.BadInput):
            results[i] = {"status": 400, "error": {"message": str(item), "field": item.field}}
        else:
            valid.append((i, {"external_id": item.id, **profile_fields(item)}))
    outcomes = users.identify_many(
        [item for _i, item in valid], lambda user, created: {"status": 201 if created else 200, **_user_json(user)}
    )
    for (i, _item), outcome in zip(valid, outcomes):
        if isinstance(outcome, users.UserError):
            outcome = {"status": 400, "error": {"message": str(outcome), "field": outcome.field}}
        results[i] = outcome
    return jsonify({"results": results})


@bp.delete("/users/<external_id>")
@operation("Erase a player and all their data", responses={200: s.ErasedOut}, errors=(404, 409), tag="players")
@require_api_key
def erase_user(external_id: str):
    """For a data-erasure request: the player and every row that references them go in one transaction
    (events, streaks, points, achievements, energy, gifts, friendships, notifications, ranks); leaderboards
    are rebuilt without them and archived runs keep the rank with the name removed. Gifts still waiting
    for them go back to their senders. The id is free again: an event for it creates a new player."""
    user = _known_user(external_id)
    rows = erasure.erase(user)
    return jsonify({"id": external_id, "deleted": True, "rows": rows})
