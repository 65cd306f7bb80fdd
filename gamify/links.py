"""Signed links (itsdangerous): deep links in e-mails that log a player into one page, one-click
unsubscribe links, and share links that show a player's year in review read-only to anyone holding one.
A deep link may name the message it came in (its delivery ref), for click counts. Each purpose has its
own salt, so a token made for one purpose is refused by every other. A login link signs in once (its
nonce is recorded on first use) and expires after 48 hours."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .extensions import db
from .models._common import utcnow
from .models.notifications import NOTIFICATION_TYPES
from .models.users import UsedLoginLink
from .services.upsert import dialect_insert

LOGIN_MAX_AGE = int(timedelta(hours=48).total_seconds())
# Unsubscribe links only switch an e-mail type off (no login), and mail clients show the
# List-Unsubscribe button on old messages too: they live longer than login links.
UNSUBSCRIBE_MAX_AGE = int(timedelta(days=365).total_seconds())
# A share link shows one year in review without login; it cannot be taken back, so it does not live long.
WRAPPED_SHARE_DAYS = 90
WRAPPED_MAX_AGE = int(timedelta(days=WRAPPED_SHARE_DAYS).total_seconds())

# Deep-link purpose -> the page it opens. The purpose is part of the salt.
DEEP_LINK_TARGETS = {
    "streak": "/streak",
    "achievements": "/achievements",
    "dashboard": "/dashboard",
}


class LinkError(Exception):
    """status 400 (tampered, wrong purpose, unusable) or 410 (expired, or a login link already used)."""

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
        raise LinkError(410, _l("This link has expired.")) from None
    except BadSignature:
        raise LinkError(400, _l("This link is not valid. It may have been copied incompletely.")) from None
    if not isinstance(data, dict):
        raise LinkError(400, _l("This link is not valid."))
    return data


@dataclass(frozen=True)
class LoginClaim:
    user_id: int
    nonce: str
    delivery: str = ""  # the ref of the message the link came in (its click is recorded), or ''


class LinkUsed(LinkError):
    def __init__(self, user_id: int):
        super().__init__(410, _l("This sign-in link was already used. Log in with your password to continue."))
        self.user_id = user_id


def login_token(user_id: int, purpose: str, delivery: str = "") -> str:
    if purpose not in DEEP_LINK_TARGETS:
        raise ValueError(f"unknown deep-link purpose {purpose!r}")
    payload = {"u": user_id, "n": secrets.token_urlsafe(16)}
    if delivery:
        payload["d"] = delivery
    return _dumps(f"login.{purpose}", payload)


def read_login_token(token: str, purpose: str) -> LoginClaim:
    if purpose not in DEEP_LINK_TARGETS:
        raise LinkError(400, _l("This link is not valid."))
    data = _loads(f"login.{purpose}", token, LOGIN_MAX_AGE)
    uid, nonce, delivery = data.get("u"), data.get("n"), data.get("d", "")
    if not isinstance(uid, int) or isinstance(uid, bool) or not isinstance(nonce, str) or not 0 < len(nonce) <= 32:
        raise LinkError(400, _l("This link is not valid."))
    if not isinstance(delivery, str) or len(delivery) > 64:
        raise LinkError(400, _l("This link is not valid."))
    return LoginClaim(uid, nonce, delivery)


def use_login_nonce(claim: LoginClaim) -> None:
    """Record the link's nonce, in the caller's transaction; LinkUsed if it was recorded before. One
    INSERT whose conflict is the answer, so two clicks at once cannot both sign in."""

    stmt = (
        dialect_insert(UsedLoginLink)
        .values(nonce=claim.nonce, user_id=claim.user_id, used_at=utcnow())
        .on_conflict_do_nothing(index_elements=["nonce"])
        .returning(UsedLoginLink.nonce)
    )
    if db.session.execute(stmt).scalar() is None:  # RETURNING: rowcount is not reliable across drivers
        raise LinkUsed(claim.user_id)


def unsubscribe_token(user_id: int, type_: str) -> str:
    return _dumps("unsubscribe", {"u": user_id, "t": type_})


def read_unsubscribe_token(token: str) -> UnsubscribeClaim:

    data = _loads("unsubscribe", token, UNSUBSCRIBE_MAX_AGE)
    uid, type_ = data.get("u"), data.get("t")
    if not isinstance(uid, int) or isinstance(uid, bool) or type_ not in NOTIFICATION_TYPES:
        raise LinkError(400, _l("This link is not valid."))
    return UnsubscribeClaim(uid, type_)


@dataclass(frozen=True)
class WrappedClaim:
    user_id: int
    year: int


def wrapped_token(user_id: int, year: int) -> str:
    return _dumps("wrapped.share", {"u": user_id, "y": year})


def read_wrapped_token(token: str) -> WrappedClaim:
    data = _loads("wrapped.share", token, WRAPPED_MAX_AGE)
    uid, year = data.get("u"), data.get("y")
    for v in (uid, year):
        if not isinstance(v, int) or isinstance(v, bool):
            raise LinkError(400, _l("This link is not valid."))
    return WrappedClaim(uid, year)


def external_url(endpoint: str, **values) -> str:
    """An absolute URL on PUBLIC_URL (e-mails are built by workers, outside any request)."""
    public = urlsplit(current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000")
    adapter = current_app.url_map.bind(
        public.netloc, script_name=public.path or "/", url_scheme=public.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def deep_link(user_id: int, purpose: str, delivery: str = "") -> str:
    """A login link into the page of `purpose`; `delivery` names the message it goes out in, so the
    link route can record the click (gamify.services.deliveries)."""
    return external_url("links.open", purpose=purpose, token=login_token(user_id, purpose, delivery))


def page_url(purpose: str) -> str:
    """The page a deep link of `purpose` opens, as a plain link (no login): for previews and test sends."""
    public = (current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/")
    return public + DEEP_LINK_TARGETS[purpose]


def unsubscribe_link(user_id: int, type_: str) -> str:
    return external_url("links.unsubscribe", token=unsubscribe_token(user_id, type_))


def target_for(purpose: str) -> Optional[str]:
    return DEEP_LINK_TARGETS.get(purpose)
