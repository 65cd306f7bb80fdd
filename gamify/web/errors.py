"""The app-wide error answers, negotiated: the JSON API gets `{"error": {"message": ...}}`, HTMX requests a
toast or a short text (never a whole page swapped into a fragment), pages the error page."""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .. import i18n
from . import ui

_, _l = i18n.gettext, i18n.lazy_gettext

# status -> (title, message for pages, short text for HTMX); None: the exception's own description
PAGES = {
    400: (_l("That could not be read"), None, None),
    403: (_l("No access"), _l("You do not have access to this page."), _l("You do not have access to this.")),
    404: (
        _l("Page not found"),
        _l("We could not find that page. It may have moved or been removed."),
        _l("Not found."),
    ),
    413: (_l("Too large"), _l("What you sent is larger than this server accepts."), _l("Too large.")),
}


def _answer(code: int, title: str, message: str, short: str, toast: bool = False):
    if request.path.startswith("/api/"):
        return jsonify({"error": {"message": str(short or message)}}), code
    if request.path.startswith("/trophy/"):  # the Trophy-compatible API: Trophy's error shape
        return jsonify({"error": str(short or message)}), code
    if ui.is_htmx():
        if toast:
            return ui.toast(make_response("", code), str(short), kind="error")
        return make_response(str(short), code)
    return render_template("error.html", code=code, title=title, message=message), code


def _http_error(e: HTTPException):
    title, message, short = PAGES[e.code]
    if e.code == 400:  # input refused at the edge (gamify.params): the description names the field
        return _answer(
            400,
            title,
            _("%(problem)s Nothing was saved; go back and correct it.", problem=e.description),
            e.description,
            toast=True,
        )
    if e.code == 403 and request.path.startswith("/admin"):
        message = _("This page is for administrators only.")
    return _answer(e.code, title, message, short)


def _csrf_error(e: CSRFError):
    """A form posted without a valid token (usually a page left open past the session): say what to do."""
    return _answer(
        400,
        _("Please try again"),
        _(
            "This form expired or was sent from another site, so nothing was saved. "
            "Go back, reload the page and send it again."
        ),
        _("Your session expired. Reload the page and try again."),
        toast=True,
    )


def _too_many(e: HTTPException):
    if request.path.startswith("/api/"):
        return jsonify({"error": {"message": f"rate limit exceeded ({e.description}); slow down"}}), 429
    return _answer(
        429,
        _("Too many attempts"),
        _("Please wait a minute and try again (%(limit)s).", limit=e.description),
        _("Too many attempts; wait a minute."),
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    for code in PAGES:
        app.register_error_handler(code, _http_error)
    app.register_error_handler(429, _too_many)
