"""Web Push (RFC 8030/8291/8292 through pywebpush): the server's VAPID key, the players' browser
subscriptions, and sending one payload to every browser of a player.

The VAPID key pair is made once and kept out of the repository: VAPID_PRIVATE_KEY (and
VAPID_PUBLIC_KEY, checked against it) from the environment, else a PEM file in the instance folder
(VAPID_KEY_FILE) written on first use. Browsers bind a subscription to the public key, so a key that
changed leaves every subscription useless: the file is created with O_EXCL and never rewritten.

Endpoints come from browsers, that is from anyone: they are called through netguard (no private
addresses) unless WEBPUSH_ALLOW_PRIVATE is set (tests, a push service on the same network).
Like every service, nothing here commits; `send` is called with no transaction open (HTTP)."""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from flask import current_app
from py_vapid import Vapid
from pywebpush import WebPushException, webpush
from sqlalchemy import delete

from .. import netguard
from ..engine import calendar as cal
from ..extensions import db
from ..models._common import utcnow
from ..models.notifications import NotificationPreference
from ..models.push import ENDPOINT_LIMIT, PUSH_TYPES, PushSubscription
from . import mobile_push, outbox

MAX_SUBSCRIPTIONS = 10  # browsers per player; the oldest goes when an 11th subscribes
TIMEOUT = 10  # seconds per push service request
GONE = (404, 410)  # the push service forgot the subscription: delete it


class PushError(ValueError):
    """A subscription the browser sent is not usable (the message says why)."""


# ---------------------------------------------------------------------------------------------
# VAPID


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _load_or_create(path: Path) -> Vapid:
    if not path.exists():
        v = Vapid()
        v.generate_keys()
        pem = v.private_pem()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    return Vapid.from_pem(path.read_bytes())


def vapid() -> Vapid:
    """The server's VAPID key (cached on the app)."""
    cache = current_app.extensions.setdefault("gamify.vapid", {})
    if "key" not in cache:
        private = current_app.config.get("VAPID_PRIVATE_KEY")
        if private:
            key = Vapid.from_pem(private.encode()) if "BEGIN" in private else Vapid.from_string(private)
        else:
            key = _load_or_create(Path(current_app.config["VAPID_KEY_FILE"]))
        public = current_app.config.get("VAPID_PUBLIC_KEY")
        if public and public != _public_b64(key):
            raise RuntimeError("VAPID_PUBLIC_KEY is not the public half of VAPID_PRIVATE_KEY")
        cache["key"] = key
    return cache["key"]


def _public_b64(key: Vapid) -> str:
    raw = key.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _b64url(raw)


def public_key() -> str:
    """The application server key browsers subscribe with (base64url, uncompressed P-256 point)."""
    return _public_b64(vapid())


def subject() -> str:
    return current_app.config.get("VAPID_SUBJECT") or "mailto:" + (
        current_app.config.get("MAIL_FROM", "").rpartition("<")[2].rstrip(">").strip() or "admin@localhost"
    )


def enabled() -> bool:
    return bool(current_app.config.get("WEBPUSH_ENABLED", True))


# ---------------------------------------------------------------------------------------------
# Subscriptions


def _check(endpoint: str, p256dh: str, auth: str) -> None:
    if not endpoint or len(endpoint) > ENDPOINT_LIMIT:
        raise PushError(f"the endpoint must be 1-{ENDPOINT_LIMIT} characters")
    parts = urlsplit(endpoint)
    allow_private = current_app.config.get("WEBPUSH_ALLOW_PRIVATE", False)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise PushError("the endpoint must be an https URL")
    if not parts.hostname:
        raise PushError("the endpoint has no host")
    try:  # RFC 8291: the browser's P-256 public key (65 bytes) and its 16-byte auth secret
        ok = len(_unb64url(p256dh)) == 65 and len(_unb64url(auth)) == 16
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise PushError("the subscription's keys are not a P-256 key and a 16-byte secret (base64url)")


def subscribe(user_id: int, endpoint: str, p256dh: str, auth: str, user_agent: str = "") -> PushSubscription:
    """Store (or refresh) the subscription of one browser. An endpoint names one browser: subscribed
    by another player on the same browser, it moves to them."""
    _check(endpoint, p256dh, auth)
    row = db.session.execute(
        db.select(PushSubscription).where(PushSubscription.endpoint == endpoint)
    ).scalar_one_or_none()
    if row is None:
        row = PushSubscription(endpoint=endpoint, created_at=utcnow())
        db.session.add(row)
    row.user_id, row.p256dh, row.auth, row.user_agent = user_id, p256dh, auth, (user_agent or "")[:255]
    db.session.flush()
    extra = subscriptions(user_id)[:-MAX_SUBSCRIPTIONS]
    for old in extra:
        if old.id != row.id:
            db.session.delete(old)
    return row


def prefer_push(user_id: int) -> int:
    """A player's first browser subscribed: push on for every type push carries that they did not set
    themselves, and those types' e-mails off (push instead of e-mail; the e-mail stays the fallback when
    no browser can be reached). Ticking both boxes afterwards is choosing both. Returns the changes."""
    stored = set(
        db.session.execute(
            db.select(NotificationPreference.type).where(
                NotificationPreference.user_id == user_id, NotificationPreference.channel == "push"
            )
        ).scalars()
    )
    changed = 0
    for t in PUSH_TYPES:
        if t in stored:  # the player's own choice, kept
            continue
        outbox.set_preference(user_id, t, "push", True)
        changed += 1
        if outbox.channel_enabled(user_id, t, "email"):
            outbox.set_preference(user_id, t, "email", False)
    return changed


def unsubscribe(user_id: int, endpoint: str) -> bool:
    result = db.session.execute(
        delete(PushSubscription).where(PushSubscription.user_id == user_id, PushSubscription.endpoint == endpoint)
    )
    return result.rowcount > 0


def subscriptions(user_id: int) -> list[PushSubscription]:
    return list(
        db.session.execute(
            db.select(PushSubscription).where(PushSubscription.user_id == user_id).order_by(PushSubscription.id)
        ).scalars()
    )


def targets(user_id: int) -> tuple[list, list]:
    """Where a push to the player can go: their subscribed browsers (Web Push on), and their app devices
    when a mobile sender is configured (services/mobile_push.py)."""
    subs = subscriptions(user_id) if enabled() else []
    devices = mobile_push.devices(user_id) if mobile_push.senders() else []
    return subs, devices


def users_with_subscriptions(user_ids: list[int]) -> set[int]:
    if not user_ids:
        return set()
    return set(
        db.session.execute(
            db.select(PushSubscription.user_id).where(PushSubscription.user_id.in_(user_ids)).distinct()
        ).scalars()
    )


# ---------------------------------------------------------------------------------------------
# Quiet hours


def quiet_hours() -> Optional[tuple[int, int]]:
    """(start, end) local hours in which no push is sent (PUSH_QUIET_HOURS "22-8"; "" switches it off)."""
    text = current_app.config.get("PUSH_QUIET_HOURS", "22-8")
    if not text:
        return None
    start, _, end = text.partition("-")
    return int(start) % 24, int(end) % 24


def quiet_until(now: datetime, tz: str) -> Optional[datetime]:
    """When the quiet hours in `tz` end, if `now` is in them (None otherwise)."""
    hours = quiet_hours()
    if hours is None or hours[0] == hours[1]:
        return None
    start, end = hours
    local = now.astimezone(cal.zone(tz))
    h = local.hour
    inside = (start <= h or h < end) if start > end else (start <= h < end)
    if not inside:
        return None
    day = local.date() if h < end else local.date() + timedelta(days=1)
    return cal.local_time_utc(day, time(end), tz)


# ---------------------------------------------------------------------------------------------
# Sending


@dataclass
class Outcome:
    sent: int = 0
    gone: int = 0  # subscriptions the push service no longer knows (deleted)
    errors: list[str] = field(default_factory=list)  # other failures (worth a retry)
    sent_ids: list[int] = field(default_factory=list)
    gone_ids: list[int] = field(default_factory=list)


def send(subs: list[PushSubscription], payload: dict, ttl: int, topic: str = "") -> Outcome:
    """POST the encrypted payload to each subscription (no database access: call `record` after)."""
    out = Outcome()
    data = json.dumps(payload, separators=(",", ":"))
    session = netguard.session(bool(current_app.config.get("WEBPUSH_ALLOW_PRIVATE", False)))
    key = vapid()
    headers = {"Urgency": "normal"}
    if topic:  # a newer message with the same topic replaces an undelivered older one (RFC 8030 5.4)
        headers["Topic"] = topic[:32]
    for sub in subs:
        info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
        try:
            webpush(
                info,
                data,
                vapid_private_key=key,
                vapid_claims={"sub": subject()},  # aud and exp are filled in per endpoint
                ttl=max(0, int(ttl)),
                timeout=TIMEOUT,
                headers=dict(headers),
                requests_session=session,
            )
        except WebPushException as e:
            status = e.response.status_code if e.response is not None else None
            if status in GONE:
                out.gone += 1
                out.gone_ids.append(sub.id)
            else:
                out.errors.append(f"{urlsplit(sub.endpoint).hostname}: {status or e}")
            continue
        except (OSError, ValueError) as e:  # connection refused, blocked address, timeout
            out.errors.append(f"{urlsplit(sub.endpoint).hostname}: {type(e).__name__}: {e}")
            continue
        out.sent += 1
        out.sent_ids.append(sub.id)
    return out


def record(outcome: Outcome, now: Optional[datetime] = None) -> None:
    """After `send`, in the caller's transaction: forget the subscriptions the push service dropped and
    note the last success of the others."""
    if outcome.gone_ids:
        db.session.execute(delete(PushSubscription).where(PushSubscription.id.in_(outcome.gone_ids)))
    if outcome.sent_ids:
        db.session.execute(
            db.update(PushSubscription)
            .where(PushSubscription.id.in_(outcome.sent_ids))
            .values(last_success_at=now or utcnow())
        )
