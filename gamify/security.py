"""Rate limits (Flask-Limiter on Redis) and security headers."""

from __future__ import annotations

import hashlib

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from .api import batch_size
from .ops import bp as ops_bp

# Scripts only from our own files: no inline <script>, no on*= attributes, no eval (templates use
# data-* attributes that static/js/app.js reads). Inline styles stay allowed: style attributes cannot
# run code, and htmx adds its indicator style.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def _api_key_or_ip() -> str:
    """Event limits count per API key (one host app), falling back to the client address."""
    key = request.headers.get("X-API-Key") or request.headers.get("Authorization", "")
    return "key:" + key[-16:] if key else "ip:" + get_remote_address()


def _auth_failures_key() -> str:
    return "auth-fail:" + get_remote_address()


def _login_account_key() -> str:
    email = (request.form.get("email") or "").strip().lower()[:255]
    return "login-account:" + hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()[:32]


def _refused(response) -> bool:
    return response.status_code == 401


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # A Redis outage must not take logins and events down with it: fall back to per-process memory.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1})
    # One limiter per app: a limiter keeps the limits decorated onto views by their names, so one shared
    # by every app in a process (tests, the worker's app, background backfills) would carry one app's
    # limits into the next and count a request once per app built.
    app.extensions["rate_limiter"] = Limiter(key_func=get_remote_address, app=app)

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if resp.mimetype == "text/html":
            resp.headers.setdefault("Content-Security-Policy", CSP)
        if request.is_secure:
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return resp


def apply_limits(app: Flask) -> None:
    """Limits on views registered elsewhere, kept here so they are reviewed in one place."""
    limiter: Limiter = app.extensions["rate_limiter"]
    # Probes and scrapes come often from a few addresses (load balancers, Prometheus): never limited.
    limiter.exempt(ops_bp)
    login_limit = app.config.get("RATE_LIMIT_LOGIN", "10 per minute")
    event_limit = app.config.get("RATE_LIMIT_EVENTS", "300 per second")
    for endpoint in ("auth.login", "auth.signup"):
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = limiter.limit(login_limit, methods=["POST"])(app.view_functions[endpoint])
    # Guessing one account's password from many addresses: failed logins also count per account.
    # Past the limit that account's form answers 429 for everyone (the price of not being guessable).
    account_limit = app.config.get("RATE_LIMIT_LOGIN_ACCOUNT", "10 per 15 minutes")
    if "auth.login" in app.view_functions:
        app.view_functions["auth.login"] = limiter.limit(
            account_limit,
            methods=["POST"],
            key_func=_login_account_key,
            deduct_when=_refused,
        )(app.view_functions["auth.login"])
    auth_limit = app.config.get("RATE_LIMIT_AUTH_FAILURES", "20 per minute")

    for endpoint, fn in list(app.view_functions.items()):
        if not endpoint.startswith(("api.", "trophy.", "trophy_admin.")):  # /api/v1, /trophy/v1, /trophy/admin/v1
            continue
        if request_methods(app, endpoint) & {"POST"}:
            # A batch counts as many requests as it carries events.
            cost = batch_size if endpoint in ("api.batch_events", "trophy_admin.batch_events") else 1
            fn = limiter.limit(event_limit, key_func=_api_key_or_ip, cost=cost)(fn)
        # Guessing keys: every refused key counts against the client address (a per-key bucket would
        # give each guess a fresh one); past the limit the address gets 429 before any look-up.
        fn = limiter.shared_limit(
            auth_limit, scope="api-auth-failures", key_func=_auth_failures_key, deduct_when=_refused
        )(fn)
        app.view_functions[endpoint] = fn


def request_methods(app: Flask, endpoint: str) -> set[str]:
    return {m for rule in app.url_map.iter_rules(endpoint=endpoint) for m in (rule.methods or ())}
