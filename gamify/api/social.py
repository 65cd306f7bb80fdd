"""Gifts and friends over the JSON API, attached to the shared `api` blueprint (/api/v1; imported by
features.py before the blueprint is registered). The web pages' services do the work, so limits, checks
and messages are the same: EnergyError is an EventError (the blueprint answers it and rolls back), and
FriendError is answered here the same way.

    POST /users/<id>/gifts                         send energy to a friend
    GET  /users/<id>/gifts?box=received|sent       gifts, newest first (cursor)
    POST /users/<id>/gifts/<gift>/accept|decline   answer a gift sent to this player
    GET  /users/<id>/friends                       friends and pending requests both ways
    POST /users/<id>/friends                       ask a player to be friends
    POST /users/<id>/friends/<other>/accept|decline, DELETE /users/<id>/friends/<other>
"""

from __future__ import annotations

from typing import Optional

from flask import jsonify, request

from ..extensions import db
from ..models import EnergyGift, Friendship, User
from ..services import energy, friends, users
from ..services.friends import FriendError
from . import ApiError, _known_user, bp, cursors, error_response, json_body, require_api_key
from .openapi import operation
from .schemas import social as s
from .schemas.base import parse, query


@bp.errorhandler(FriendError)
def _friend_error(e: FriendError):
    db.session.rollback()
    return error_response(e.status, e.field, str(e))


def _iso(at) -> Optional[str]:
    return at.isoformat() if at is not None else None


def _player(user: User) -> dict:
    return {"id": user.external_id, "name": user.name}


def _other(external_id: str, field: str) -> User:
    """The other player a path or body names (404 naming `field` when unknown)."""
    other = users.by_external_id(external_id)
    if other is None:
        raise ApiError(404, field, f"unknown user '{external_id}'")
    return other


def gift_json(gift: EnergyGift) -> dict:
    return {
        "id": gift.id,
        "sender": _player(gift.sender),
        "recipient": _player(gift.recipient),
        "amount": gift.amount,
        "message": gift.message or "",
        "status": energy.gift_status(gift),
        "created_at": gift.created_at.isoformat(),
        "expires_at": gift.expires_at.isoformat(),
        "resolved_at": _iso(gift.resolved_at),
        "credited": gift.credited,
        "refunded": bool(gift.refunded),
    }


# ------------------------------------------------------------------------------------------ gifts


@bp.post("/users/<external_id>/gifts")
@operation(
    "Send energy to a friend",
    body=s.GiftBody,
    responses={201: s.GiftSentOut},
    errors=(403, 404, 409),
    tag="social",
)
@require_api_key
def send_gift(external_id: str):
    """The sender spends the energy now; the friend has `limits.expiry_hours` to accept it. 403 when the
    two are not friends, 429 past either player's daily gift limit (`error.limit`), 409 without enough
    energy."""
    body = parse(s.GiftBody, json_body())
    sender = _known_user(external_id)
    recipient = _other(body.recipient, "recipient")
    gift = energy.send_gift(sender, recipient, body.amount, body.message or "")
    return jsonify({"gift": gift_json(gift), "energy": energy.status(sender)}), 201


@bp.get("/users/<external_id>/gifts")
@operation(
    "A player's gifts, received or sent (newest first)",
    query=s.GiftsQuery,
    responses={200: s.GiftsOut},
    errors=(404,),
    tag="social",
)
@require_api_key
def list_gifts(external_id: str):
    user = _known_user(external_id)
    q = query(s.GiftsQuery, request.args)
    scope = f"gifts:{user.id}:{q.box}:{q.status or ''}"
    rows = energy.gift_page(user, q.box, q.status, cursors.time_id_before(scope, q.cursor), q.limit + 1)
    gifts, next_cursor = cursors.time_id_next(scope, rows, q.limit)
    return jsonify(
        {"gifts": [gift_json(g) for g in gifts], "next_cursor": next_cursor, "limits": energy.gift_limits(user)}
    )


@bp.post("/users/<external_id>/gifts/<int:gift_id>/accept")
@operation("Accept a gift", responses={200: s.GiftAcceptedOut}, errors=(404, 409), tag="social")
@require_api_key
def accept_gift(external_id: str, gift_id: int):
    """Credits the gift (capped at the player's maximum; refused with 409 while their energy is full, so
    the gift is not wasted). A gift sent to another player is a 404."""
    user = _known_user(external_id)
    result = energy.accept_gift(user, gift_id)
    gift = db.session.get(EnergyGift, gift_id)
    return jsonify({"gift": gift_json(gift), "credited": result["credited"], "energy": energy.status(user)})


@bp.post("/users/<external_id>/gifts/<int:gift_id>/decline")
@operation(
    "Decline a gift (its energy goes back to the sender)",
    responses={200: s.GiftDeclinedOut},
    errors=(404, 409),
    tag="social",
)
@require_api_key
def decline_gift(external_id: str, gift_id: int):
    """The gift becomes declined and the sender gets the energy back at once (it still counts against both
    players' daily limits). A gift sent to another player is a 404."""
    user = _known_user(external_id)
    gift = energy.decline_gift(user, gift_id)
    return jsonify({"gift": gift_json(gift)})


# ------------------------------------------------------------------------------------------ friends


@bp.get("/users/<external_id>/friends")
@operation("A player's friends and pending requests", responses={200: s.FriendsOut}, errors=(404,), tag="social")
@require_api_key
def list_friends(external_id: str):
    user = _known_user(external_id)

    def pending(rows: list[Friendship], incoming: bool) -> list[dict]:
        return [
            _player(r.requester if incoming else r.addressee) | {"requested_at": r.created_at.isoformat()} for r in rows
        ]

    return jsonify(
        {
            "friends": [_player(u) | {"since": _iso(row.responded_at)} for u, row in friends.friendships(user)],
            "incoming": pending(friends.incoming(user), True),
            "outgoing": pending(friends.outgoing(user), False),
        }
    )


@bp.post("/users/<external_id>/friends")
@operation(
    "Ask a player to be friends",
    body=s.FriendBody,
    responses={200: s.FriendshipOut, 201: s.FriendshipOut},
    errors=(404, 409),
    tag="social",
)
@require_api_key
def request_friend(external_id: str):
    """201 with status "pending" when the request was sent; 200 with status "accepted" when the other
    player had already asked (their request is accepted). 409 when already friends or already asked."""
    body = parse(s.FriendBody, json_body())
    user = _known_user(external_id)
    other = _other(body.friend, "friend")
    row, message = friends.request_to(user, other)
    return jsonify({"friend": _player(other), "status": row.status, "message": message}), (
        201 if row.status == "pending" else 200
    )


@bp.post("/users/<external_id>/friends/<friend_id>/accept")
@operation("Accept a friend request", responses={200: s.FriendshipOut}, errors=(404,), tag="social")
@require_api_key
def accept_friend(external_id: str, friend_id: str):
    """Only a request `friend_id` sent to this player can be accepted (anything else is a 404)."""
    user = _known_user(external_id)
    other = _other(friend_id, "friend_id")
    friends.accept_from(user, other)
    return jsonify(
        {"friend": _player(other), "status": "accepted", "message": f"You and {other.name} are now friends."}
    )


@bp.post("/users/<external_id>/friends/<friend_id>/decline")
@operation(
    "Decline a friend request, or cancel one sent", responses={200: s.FriendshipOut}, errors=(404,), tag="social"
)
@require_api_key
def decline_friend(external_id: str, friend_id: str):
    user = _known_user(external_id)
    other = _other(friend_id, "friend_id")
    friends.decline_with(user, other)
    return jsonify({"friend": _player(other), "status": "none", "message": "Request removed."})


@bp.delete("/users/<external_id>/friends/<friend_id>")
@operation("Remove a friend", responses={200: s.FriendshipOut}, errors=(404,), tag="social")
@require_api_key
def remove_friend(external_id: str, friend_id: str):
    user = _known_user(external_id)
    other = _other(friend_id, "friend_id")
    friends.remove(user, other.id)
    return jsonify({"friend": _player(other), "status": "none", "message": "Friend removed."})
