"""Signed links in e-mails (itsdangerous): deep links that log a player into one page, and one-click
unsubscribe links. Each purpose has its own salt, so a token made for one purpose is refused by every
other; login links expire after 7 days."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Optional
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


LOGIN_MAX_AGE = int(timedelta(days=7).total_seconds())
# Unsubscribe links only switch an e-mail type off (no login), and mail clients show the
# List-Unsubscribe button on old messages too: they live longer than login links.
UNSUBSCRIBE_MAX_AGE = int(timedelta(days=365).total_seconds())

# Deep-link purpose -> the page it opens. The purpose is part of the salt.
DEEP_LINK_TARGETS = {
    "streak": "/streak",
    "achievements": "/achievements",
    "dashboard": "/dashboard",
}


class LinkError(Exception):
    """status 400 (tampered, wrong purpose, unusable) or 410 (expired)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class UnsubscribeClaim:
    user_id: int
    type: str


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"gamify.links.{salt}")


def _dumps(salt: str, payload: dict) -> str:
    return _serializer(salt).dumps(payload)


def _loads(salt: str, token: str, max_age: int) -> dict:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkError(410, "This link has expired.")
    except BadSignature:
        raise LinkError(400, "This link is not valid. It may have been copied incompletely.")
    if not isinstance(data, dict):
        raise LinkError(400, "This link is not valid.")
    return data


def login_token(user_id: int, purpose: str) -> str:
    if purpose not in DEEP_LINK_TARGETS:
        raise ValueError(f"unknown deep-link purpose {purpose!r}")
    return _dumps(f"login.{purpose}", {"u": user_id})


def read_login_token(token: str, purpose: str) -> int:
    if purpose not in DEEP_LINK_TARGETS:
        raise LinkError(400, "This link is not valid.")
    data = _loads(f"login.{purpose}", token, LOGIN_MAX_AGE)
    uid = data.get("u")
    if not isinstance(uid, int) or isinstance(uid, bool):
        raise LinkError(400, "This link is not valid.")
    return uid


def unsubscribe_token(user_id: int, type_: str) -> str:
    return _dumps("unsubscribe", {"u": user_id, "t": type_})


def read_unsubscribe_token(token: str) -> UnsubscribeClaim:
    from .models.notifications import NOTIFICATION_TYPES
    data = _loads("unsubscribe", token, UNSUBSCRIBE_MAX_AGE)
    uid, type_ = data.get("u"), data.get("t")
    if not isinstance(uid, int) or isinstance(uid, bool) or type_ not in NOTIFICATION_TYPES:
        raise LinkError(400, "This link is not valid.")
    return UnsubscribeClaim(uid, type_)


def external_url(endpoint: str, **values) -> str:
    """An absolute URL on PUBLIC_URL (e-mails are built by workers, outside any request)."""
    public = urlsplit(current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000")
    adapter = current_app.url_map.bind(public.netloc, script_name=public.path or "/",
                                       url_scheme=public.scheme or "https")
    return adapter.build(endpoint, values, force_external=True)


def deep_link(user_id: int, purpose: str) -> str:
    return external_url("links.open", purpose=purpose, token=login_token(user_id, purpose))


def unsubscribe_link(user_id: int, type_: str) -> str:
    return external_url("links.unsubscribe", token=unsubscribe_token(user_id, type_))


def target_for(purpose: str) -> Optional[str]:
    return DEEP_LINK_TARGETS.get(purpose)
