"""A player's in-app notifications and notification preferences over the JSON API, attached to the shared
`api` blueprint (/api/v1; imported by features.py before the blueprint is registered). The same services
as the player's notification panel and settings page.

    GET   /users/<id>/notifications?unread=true&cursor=&limit=   the inbox, newest first
    POST  /users/<id>/notifications/<nid>/read                   mark one read
    POST  /users/<id>/notifications/read-all                     mark all read
    GET   /users/<id>/notification-preferences                   every type and channel
    PATCH /users/<id>/notification-preferences                   change some of them
"""

from __future__ import annotations

from flask import jsonify, request

from ..models import Notification
from ..models.notifications import NOTIFICATION_TYPES
from ..services import notifications
from . import ApiError, _known_user, bp, cursors, json_body, require_api_key
from .openapi import operation
from .schemas import notifications as s
from .schemas.base import parse, query


def notification_json(n: Notification) -> dict:
    return {
        "id": n.id,
        "type": n.type,
        "title": n.title,
        "body": n.body or "",
        "link": n.link or "",
        "created_at": n.created_at.isoformat(),
        "read_at": n.read_at.isoformat() if n.read_at else None,
    }


@bp.get("/users/<external_id>/notifications")
@operation(
    "A player's in-app notifications (newest first)",
    query=s.InboxQuery,
    responses={200: s.InboxOut},
    errors=(404,),
    tag="notifications",
)
@require_api_key
def list_notifications(external_id: str):
    user = _known_user(external_id)
    q = query(s.InboxQuery, request.args)
    scope = f"notifications:{user.id}:{int(q.unread)}"
    rows = notifications.inbox_page(user.id, q.unread, cursors.time_id_before(scope, q.cursor), q.limit + 1)
    items, next_cursor = cursors.time_id_next(scope, rows, q.limit)
    return jsonify(
        {
            "notifications": [notification_json(n) for n in items],
            "unread_count": notifications.unread_count(user.id),
            "next_cursor": next_cursor,
        }
    )


@bp.post("/users/<external_id>/notifications/<int:nid>/read")
@operation("Mark a notification read", responses={200: s.NotificationOut}, errors=(404,), tag="notifications")
@require_api_key
def read_notification(external_id: str, nid: int):
    """Marking one already read changes nothing (its first read time stays). Another player's is a 404."""
    user = _known_user(external_id)
    n = notifications.open_one(user.id, nid)
    if n is None:
        raise ApiError(404, "nid", f"no notification {nid} for this player")
    return jsonify(notification_json(n))


@bp.post("/users/<external_id>/notifications/read-all")
@operation("Mark all notifications read", responses={200: s.ReadAllOut}, errors=(404,), tag="notifications")
@require_api_key
def read_all_notifications(external_id: str):
    user = _known_user(external_id)
    marked = notifications.mark_all_read(user.id)
    return jsonify({"marked": marked, "unread_count": notifications.unread_count(user.id)})


def _preferences_json(user_id: int) -> dict:
    return {
        "preferences": notifications.preferences(user_id),
        "types": {t: str(label) for t, label in NOTIFICATION_TYPES.items()},
    }


@bp.get("/users/<external_id>/notification-preferences")
@operation("A player's notification preferences", responses={200: s.PreferencesOut}, errors=(404,), tag="notifications")
@require_api_key
def get_notification_preferences(external_id: str):
    """Every type on every channel (in_app, email): true unless the player switched it off."""
    return jsonify(_preferences_json(_known_user(external_id).id))


@bp.patch("/users/<external_id>/notification-preferences")
@operation(
    "Change notification preferences",
    body=s.PreferencesBody,
    responses={200: s.PreferencesOut},
    errors=(404,),
    tag="notifications",
)
@require_api_key
def patch_notification_preferences(external_id: str):
    """Only the types and channels named change; answers every preference as it is now."""
    body = parse(s.PreferencesBody, json_body())
    user = _known_user(external_id)
    notifications.set_preferences(user.id, body.preferences)
    return jsonify(_preferences_json(user.id))
