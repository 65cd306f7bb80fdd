"""Helpers shared by the server-rendered pages (player and admin): HTMX detection, toasts, route
lookup for guarded nav links, optional feature services (times and numbers: gamify/i18n.py).

Toasts from any HTMX response:  `ui.toast(resp, "Saved")`  or
`resp.headers["HX-Trigger"] = json.dumps({"toast": {"message": ..., "kind": "success|error|info|achievement",
"title": ..., "icon": ...}})`. Full-page responses keep using `flash()`.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from datetime import date, timedelta
from typing import Any, Optional

from flask import current_app, render_template, request
from flask_login import current_user

from .. import i18n, notices
from ..services import notifications


def me():
    """The signed-in player's User row (the model itself, not Flask-Login's proxy)."""
    return current_user._get_current_object()


def control_gate(endpoints: Optional[set] = None):
    """A before_request hook for gamification pages: players in the control group (Admin → Analytics)
    see none of it, only a plain page (their events still count, for the comparison)."""

    def gate():
        if not (current_user and getattr(current_user, "is_authenticated", False)):
            return None
        if not getattr(current_user, "control_group", False):
            return None
        if endpoints is not None and request.endpoint not in endpoints:
            return None
        return render_template("player/control.html"), 200

    return gate


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def hx_target() -> str:
    return request.headers.get("HX-Target", "") or ""


def toast(
    response,
    message: str,
    kind: str = "success",
    title: Optional[str] = None,
    icon: Optional[str] = None,
    event: str = "toast",
):
    """Add a toast to an HTMX response (merged into any HX-Trigger already set)."""
    raw = response.headers.get("HX-Trigger")
    triggers: dict = {}
    if raw:
        try:
            triggers = json.loads(raw)
        except ValueError:
            triggers = {name.strip(): None for name in raw.split(",")}
    item = {"message": message, "kind": kind}
    if title:
        item["title"] = title
    if icon:
        item["icon"] = icon
    existing = triggers.get(event)
    if isinstance(existing, dict) and existing.get("message"):
        triggers[event] = [existing, item]
    elif isinstance(existing, list):
        triggers[event] = existing + [item]
    else:
        triggers[event] = item
    response.headers["HX-Trigger"] = json.dumps(triggers)
    return response


def trigger(response, event: str, detail: Any = None):
    """Fire a client event after the swap (e.g. "notifications-changed" refreshes the bell)."""
    raw = response.headers.get("HX-Trigger")
    triggers = json.loads(raw) if raw and raw.startswith("{") else ({raw: None} if raw else {})
    triggers[event] = detail
    response.headers["HX-Trigger"] = json.dumps(triggers)
    return response


def has_route(path: str) -> bool:
    """True when some registered URL rule serves exactly `path` (used to show other features' links)."""
    path = path.rstrip("/") or "/"
    for rule in current_app.url_map.iter_rules():
        if (rule.rule.rstrip("/") or "/") == path and "GET" in (rule.methods or ()):
            return True
    return False


def optional_service(module: str, func: str, *args, **kwargs):
    """Call gamify.services.<module>.<func>(...) if that feature is installed; None otherwise.

    A feature that is not there yet is not an error. A feature that raises is logged and left out of
    the page (re-raised under TESTING so the test suite notices)."""
    name = f"gamify.services.{module}"
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name in (name, "gamify.services"):
            return None
        raise
    fn = getattr(mod, func, None)
    if fn is None:
        return None
    try:
        return fn(*args, **kwargs)
    except Exception:
        if current_app.testing:
            raise
        current_app.logger.exception("%s.%s failed; leaving it out of the page", name, func)
        return None


def feature_available(module: str) -> bool:
    return importlib.util.find_spec(f"gamify.services.{module}") is not None


# ------------------------------------------------------------------------------------------ formatting
# The one formatter lives in gamify/i18n.py (pages, e-mails and jobs share it); views reach it as ui.*.
fmt_date, fmt_day, fmt_time = i18n.fmt_date, i18n.fmt_day, i18n.fmt_time
localdate, localdt, reltime, to_local = i18n.localdate, i18n.localdt, i18n.reltime, i18n.to_local
month_title, num, pct, weekday = i18n.month_title, i18n.num, i18n.pct, i18n.weekday


def init_app(app) -> None:
    """Template globals for every page (the formatting filters come from gamify.i18n)."""

    @app.context_processor
    def _globals():
        from .theme import choice as theme_choice  # noqa: PLC0415 (theme imports ui)

        return {
            "theme_choice": theme_choice,
            "has_route": has_route,
            "unread_notifications": unread_notifications,
            "feature_available": feature_available,
            "notice_text": notices.text,
        }


def unread_notifications() -> int:
    if not (current_user and getattr(current_user, "is_authenticated", False)):
        return 0

    return notifications.unread_count(current_user.id)


def month_start_back(today: date, months_back: int) -> date:
    y, m = today.year, today.month - months_back
    while m <= 0:
        m += 12
        y -= 1
    return date(y, m, 1)


def days(start: date, end: date):
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)
