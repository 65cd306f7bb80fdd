"""Where the current unit of work came from: the client's IP address while a web or API request is being
handled, None in jobs and the CLI. Kept in a context variable (set by the app for each request) so the
energy ledger can record it without every service taking a request argument."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Optional

from flask import request

_client_ip: ContextVar[Optional[str]] = ContextVar("gamify_client_ip", default=None)


def client_ip() -> Optional[str]:
    return _client_ip.get()


def init_app(app) -> None:
    @app.before_request
    def _remember_client():
        # remote_addr is the socket's peer unless PROXY_FIX_X_FOR tells the app to trust that many
        # reverse proxies' X-Forwarded-For (config.py wraps the WSGI app in ProxyFix for it).
        request.environ["gamify.origin_token"] = _client_ip.set((request.remote_addr or "")[:45] or None)

    @app.teardown_request
    def _forget_client(_exc=None):
        token = request.environ.pop("gamify.origin_token", None)
        if token is not None:
            try:
                _client_ip.reset(token)
            except ValueError:  # set in another context (a streamed response): just clear it
                _client_ip.set(None)
