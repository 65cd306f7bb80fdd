"""Trophy's users: create, get, identify (PUT), update (PATCH), notification preferences.

POST  /trophy/v1/users                    create (or update) a user: 201
GET   /trophy/v1/users/{id}               the user
PUT   /trophy/v1/users/{id}               identify: create or update
PATCH /trophy/v1/users/{id}               update a known user (404 otherwise)
GET   /trophy/v1/users/{id}/preferences   e-mail preferences per notification type
PATCH /trophy/v1/users/{id}/preferences   change them
"""

from __future__ import annotations

from typing import Optional

from ..models import User
from ..services import outbox, users
from . import schemas as s
from . import shapes
from .base import TrophyError, answer, body, bp, not_found, require_key


def known_user(external_id: str) -> User:
    user = users.by_external_id(external_id)
    if user is None:
        raise not_found("user", external_id)
    return user


_FIELD_NAMES = {
    "sign_up_date": "signUpDate",
    "device_tokens": "deviceTokens",
    "subscribe_to_emails": "subscribeToEmails",
}


def _extras(fields: s.UpdatedUserIn) -> dict:
    """Trophy's user fields beyond the profile, as users.identify takes them (stored: docs/trophy-compat.md)."""
    return {
        "sign_up_date": fields.sign_up_date,
        "subscribe_to_emails": fields.subscribe_to_emails,
        "device_tokens": fields.device_tokens,
    }


def _identify(external_id: str, **fields) -> tuple[User, bool]:
    """users.identify, its refusals in Trophy's words (camelCase field names; 422)."""
    try:
        return users.identify(external_id, **fields)
    except users.UserError as e:
        message = str(e)
        for snake, camel in _FIELD_NAMES.items():
            message = message.replace(snake, camel)
        raise TrophyError(422, message) from e


def identify(external_id: str, fields: s.UpdatedUserIn) -> tuple[User, bool]:
    """Create or update the player with Trophy's user fields; (user, created)."""
    return _identify(
        external_id,
        name=fields.name,
        email=fields.email,
        tz=fields.tz,
        attributes=fields.attributes,
        **_extras(fields),
    )


def apply_extras(user: User, fields: Optional[s.UpdatedUserIn]) -> None:
    """The user fields the event pipeline does not take (signUpDate, subscribeToEmails, deviceTokens)."""
    if fields is not None and any(v is not None for v in _extras(fields).values()):
        _identify(user.external_id, **_extras(fields))


@bp.post("/users")
@require_key
def create_user():
    data = body(s.UpsertedUserIn)
    user, _created = identify(data.id, data)
    return answer(shapes.user_out(user), 201)


@bp.get("/users/<external_id>")
@require_key
def get_user(external_id: str):
    return answer(shapes.user_out(known_user(external_id)))


@bp.put("/users/<external_id>")
@require_key
def identify_user(external_id: str):
    data = body(s.UpdatedUserIn)
    if len(external_id) > 128:
        raise TrophyError(422, "user id must be at most 128 characters")
    user, _created = identify(external_id, data)
    return answer(shapes.user_out(user))


@bp.patch("/users/<external_id>")
@require_key
def update_user(external_id: str):
    data = body(s.UpdatedUserIn)
    known_user(external_id)
    user, _created = identify(external_id, data)
    return answer(shapes.user_out(user))


def _preferences(user: User) -> s.PreferencesOut:
    return s.PreferencesOut(
        notifications={t: (["email"] if on else []) for t, on in shapes.email_types_enabled(user.id).items()}
    )


@bp.get("/users/<external_id>/preferences")
@require_key
def get_preferences(external_id: str):
    return answer(_preferences(known_user(external_id)))


@bp.patch("/users/<external_id>/preferences")
@require_key
def update_preferences(external_id: str):
    data = body(s.PreferencesIn, shape_status=422)  # this operation declares no 400
    user = known_user(external_id)
    if data.streak is not None:
        raise TrophyError(
            403, "per-user streak settings are not available: gamify has one streak configuration for every player"
        )
    wanted = data.notifications.model_dump(exclude_none=True) if data.notifications else {}
    if any("push" in channels for channels in wanted.values()):
        raise TrophyError(422, "push notifications are not available on this server: only 'email'")
    for trophy_type, channels in wanted.items():
        gamify_type = shapes.NOTIFICATION_TYPES[trophy_type]
        if outbox.channel_enabled(user.id, gamify_type, "email") != ("email" in channels):
            outbox.set_preference(user.id, gamify_type, "email", "email" in channels)
    return answer(_preferences(user))
