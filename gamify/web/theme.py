"""The colour theme: light or dark, chosen with the toggle in the top bar (or on the settings page), or
the device's preference (prefers-color-scheme) until a choice is made.

A signed-in player's choice is stored on the user (so it follows them to every device); everyone's is
also kept in a cookie, so pages without a player (login, sign-up, e-mail links) keep it too. The page
shell (base.html) renders the choice as html[data-theme]; static/css/app.css does the rest."""

from __future__ import annotations

from typing import Optional

from flask import Blueprint, current_app, flash, jsonify, make_response, redirect, request
from flask_login import current_user

from ..i18n import _
from ..models import THEMES
from ..services import users
from . import ui
from .auth import safe_next

bp = Blueprint("theme", __name__)

COOKIE = "theme"
COOKIE_AGE = 365 * 24 * 3600
SYSTEM = "system"  # the form's value for "follow my device"


def choice() -> Optional[str]:
    """The theme chosen for this request ("light" or "dark"), or None: follow the device."""
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.theme in THEMES:
        return current_user.theme
    cookie = request.cookies.get(COOKIE)
    return cookie if cookie in THEMES else None


@bp.post("/theme")
def set_theme():
    value = (request.form.get("theme") or "").strip()
    if value not in (*THEMES, SYSTEM):
        return jsonify(error=f"theme: must be one of {', '.join((*THEMES, SYSTEM))}", field="theme"), 400
    theme = None if value == SYSTEM else value
    if current_user.is_authenticated:
        users.set_theme(ui.me(), theme)
    if ui.is_htmx():
        # The page applies it (static/js/app.js, on "theme-changed") without a reload.
        resp = ui.trigger(make_response(""), "theme-changed", {"theme": theme})
    else:
        if request.form.get("from") == "settings":
            flash(_("Theme saved."), "success")
        resp = redirect(safe_next(request.form.get("next")) or "/")
    if theme is None:
        resp.delete_cookie(COOKIE)
    else:
        resp.set_cookie(
            COOKIE,
            theme,
            max_age=COOKIE_AGE,
            samesite="Lax",
            httponly=True,
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return resp
