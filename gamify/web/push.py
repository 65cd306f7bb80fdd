"""Web Push for players: the service worker (served at /sw.js so its scope is the whole player app) and
the settings page's subscribe/unsubscribe control (static/js/push.js posts the browser's subscription
here, JSON with the CSRF token in X-CSRFToken, as every HTMX request sends it)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, send_from_directory
from flask_login import login_required

from .. import i18n
from ..services import webpush
from . import ui

_ = i18n.gettext

bp = Blueprint("push", __name__)


@bp.get("/sw.js")
def service_worker():
    """static/sw.js from the site's root: a worker's scope is at most the folder it is served from."""
    resp = send_from_directory(current_app.static_folder, "sw.js", mimetype="text/javascript", max_age=0)
    resp.headers["Service-Worker-Allowed"] = "/"
    resp.headers["Cache-Control"] = "no-cache"  # browsers check for a new worker on every visit
    return resp


def _json_body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@bp.post("/settings/push/subscribe")
@login_required
def subscribe():
    user = ui.me()
    body = _json_body()
    keys = body.get("keys") if isinstance(body.get("keys"), dict) else {}
    fields = (body.get("endpoint"), keys.get("p256dh"), keys.get("auth"))
    if not all(isinstance(v, str) for v in fields):
        return jsonify(error=_("This browser sent no usable push subscription.")), 400
    first = not webpush.subscriptions(user.id)
    try:
        webpush.subscribe(user.id, *fields, user_agent=request.headers.get("User-Agent", ""))
    except webpush.PushError:
        return jsonify(error=_("This browser sent no usable push subscription.")), 400
    if first:
        webpush.prefer_push(user.id)
    return jsonify(subscribed=True, devices=len(webpush.subscriptions(user.id)))


@bp.post("/settings/push/unsubscribe")
@login_required
def unsubscribe():
    user = ui.me()
    endpoint = _json_body().get("endpoint")
    removed = isinstance(endpoint, str) and webpush.unsubscribe(user.id, endpoint)
    return jsonify(subscribed=False, removed=bool(removed), devices=len(webpush.subscriptions(user.id)))
