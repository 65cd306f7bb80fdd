"""A player's devices for mobile push (attached to the shared `api` blueprint, /api/v1; imported by
features.py before the blueprint is registered). The host app registers the push token it got on a
phone; reminders and other notifications the player wants by push then go to it too (Expo or FCM, when
configured: services/mobile_push.py). A token a push service calls invalid is removed by the sender.

    GET    /users/<id>/devices             the player's devices
    POST   /users/<id>/devices             {"token": "...", "platform": "ios|android|expo"}
    DELETE /users/<id>/devices/<token>     (the token URL-encoded)
"""

from __future__ import annotations

from flask import jsonify

from ..models import DeviceToken
from ..services import mobile_push
from ..services.users import UserError
from . import ApiError, _known_user, bp, json_body, require_api_key
from .openapi import operation
from .schemas import devices as s
from .schemas.base import parse


def device_json(d: DeviceToken) -> dict:
    return {"token": d.token, "platform": d.platform or "", "created_at": d.created_at.isoformat()}


@bp.get("/users/<external_id>/devices")
@operation("A player's devices for mobile push", responses={200: s.DevicesOut}, errors=(404,), tag="notifications")
@require_api_key
def list_devices(external_id: str):
    user = _known_user(external_id)
    return jsonify({"devices": [device_json(d) for d in mobile_push.devices(user.id)]})


@bp.post("/users/<external_id>/devices")
@operation(
    "Register a device's push token",
    body=s.DeviceBody,
    responses={200: s.DeviceOut},
    errors=(404,),
    tag="notifications",
)
@require_api_key
def register_device(external_id: str):
    """A token names one device: registered for another player, it moves to this one; registered again,
    its platform is updated. A player keeps their 20 newest devices."""
    body = parse(s.DeviceBody, json_body())
    user = _known_user(external_id)
    try:
        token, platform = mobile_push.clean_device(body.token, body.platform)
    except UserError as e:
        raise ApiError(400, e.field, str(e)) from e
    return jsonify(device_json(mobile_push.register(user.id, token, platform)))


@bp.delete("/users/<external_id>/devices/<token>")
@operation("Remove a device", responses={200: s.DeviceDeleted}, errors=(404,), tag="notifications")
@require_api_key
def delete_device(external_id: str, token: str):
    user = _known_user(external_id)
    return jsonify({"deleted": mobile_push.remove(user.id, token)})
