"""Friends: request (by display name or email), accept, decline, remove. Writes in the caller's transaction."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import func, or_

from .. import i18n
from ..extensions import db
from ..models import ROLE_PLAYER, Friendship, User
from ..models._common import utcnow
from . import outbox

_ = i18n.gettext


class FriendError(ValueError):
    def __init__(self, message: str, status: int = 400, field: str = "friend"):
        super().__init__(message)
        self.status, self.field = status, field


def find_player(query: str) -> User:
    """A player by email (exact, case-insensitive) or display name (case-insensitive, must be unique)."""
    query = (query or "").strip()
    if not query:
        raise FriendError(_("Enter a display name or an email address."))
    if len(query) > 255:
        raise FriendError(_("That is too long for a name or an email address."))
    players = db.select(User).where(User.role == ROLE_PLAYER)
    if "@" in query:
        user = db.session.execute(players.where(User.email == query.lower())).scalar_one_or_none()
        if user is not None:
            return user
    matches = list(db.session.execute(players.where(func.lower(User.display_name) == query.lower()).limit(2)).scalars())
    if len(matches) > 1:
        raise FriendError(_("Several players are called “%(query)s”: use their email address instead.", query=query))
    if not matches:
        raise FriendError(_("No player found with the name or email “%(query)s”.", query=query), 404)
    return matches[0]


def _pair(a_id: int, b_id: int) -> Optional[Friendship]:
    return (
        db.session.execute(
            db.select(Friendship)
            .where(
                or_(
                    (Friendship.requester_id == a_id) & (Friendship.addressee_id == b_id),
                    (Friendship.requester_id == b_id) & (Friendship.addressee_id == a_id),
                )
            )
            .order_by(Friendship.id)
        )
        .scalars()
        .first()
    )


def are_friends(a_id: int, b_id: int) -> bool:
    return (
        db.session.execute(
            db.select(Friendship.id).where(
                Friendship.status == "accepted",
                or_(
                    (Friendship.requester_id == a_id) & (Friendship.addressee_id == b_id),
                    (Friendship.requester_id == b_id) & (Friendship.addressee_id == a_id),
                ),
            )
        ).first()
        is not None
    )


def request(user: User, query: str) -> tuple[Friendship, str]:
    """Ask someone to be friends. If they already asked you, this accepts. Returns (row, message)."""
    return request_to(user, find_player(query))


def request_to(user: User, other: User) -> tuple[Friendship, str]:
    """`request` for a player already found (the API names them by the host app's id)."""
    if other.id == user.id:
        raise FriendError(_("You can't add yourself as a friend."))
    existing = _pair(user.id, other.id)
    if existing is not None:
        if existing.status == "accepted":
            raise FriendError(_("You and %(name)s are already friends.", name=other.name), 409)
        if existing.requester_id == user.id:
            raise FriendError(_("You already asked %(name)s; waiting for an answer.", name=other.name), 409)
        existing.status, existing.responded_at = "accepted", utcnow()
        return existing, _("You and %(name)s are now friends.", name=other.name)
    row = Friendship(requester_id=user.id, addressee_id=other.id, status="pending", created_at=utcnow())
    db.session.add(row)
    db.session.flush()

    outbox.emit("friend.requested", other.id, {"from_user_id": user.id})
    return row, _("Friend request sent to %(name)s.", name=other.name)


def _accept(user: User, row: Optional[Friendship]) -> Friendship:
    if row is None or row.addressee_id != user.id or row.status != "pending":
        raise FriendError(_("That friend request is not waiting for you."), 404)
    row.status, row.responded_at = "accepted", utcnow()
    return row


def accept(user: User, friendship_id: int) -> Friendship:
    return _accept(user, db.session.get(Friendship, friendship_id))


def accept_from(user: User, other: User) -> Friendship:
    """Accept `other`'s request (the API names the pair, not the row)."""
    return _accept(user, _pair(user.id, other.id))


def _decline(user: User, row: Optional[Friendship]) -> None:
    if row is None or row.status != "pending" or user.id not in (row.requester_id, row.addressee_id):
        raise FriendError(_("That friend request no longer exists."), 404)
    db.session.delete(row)


def decline(user: User, friendship_id: int) -> None:
    """Decline an incoming request, or cancel one you sent."""
    _decline(user, db.session.get(Friendship, friendship_id))


def decline_with(user: User, other: User) -> None:
    """Decline `other`'s request, or cancel the one you sent them."""
    _decline(user, _pair(user.id, other.id))


def remove(user: User, other_id: int) -> None:
    row = _pair(user.id, other_id)
    if row is None or row.status != "accepted":
        raise FriendError(_("You are not friends with that player."), 404)
    db.session.delete(row)


def friends(user: User) -> list[User]:
    return [other for other, _row in friendships(user)]


def friendships(user: User) -> list[tuple[User, Friendship]]:
    """The player's friends with the row that made them friends, by name."""
    rows = db.session.execute(
        db.select(Friendship).where(
            Friendship.status == "accepted", or_(Friendship.requester_id == user.id, Friendship.addressee_id == user.id)
        )
    ).scalars()
    seen, out = set(), []
    for r in rows:
        other = r.other(user.id)
        if other.id not in seen:
            seen.add(other.id)
            out.append((other, r))
    return sorted(out, key=lambda pair: pair[0].name.lower())


def incoming(user: User) -> list[Friendship]:
    return list(
        db.session.execute(
            db.select(Friendship)
            .where(Friendship.addressee_id == user.id, Friendship.status == "pending")
            .order_by(Friendship.created_at)
        ).scalars()
    )


def outgoing(user: User) -> list[Friendship]:
    return list(
        db.session.execute(
            db.select(Friendship)
            .where(Friendship.requester_id == user.id, Friendship.status == "pending")
            .order_by(Friendship.created_at)
        ).scalars()
    )
