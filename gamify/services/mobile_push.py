"""Mobile push for host apps: the device tokens the host product registers per player (device_tokens,
platform ios/android/expo), and one small sender interface with two implementations:

- Expo's push API (POST EXPO_PUSH_URL, default https://exp.host/--/api/v2/push/send; an array of up to
  100 messages, answered in order with {"status": "ok"} or {"status": "error", "details": {"error":
  "DeviceNotRegistered"}});
- FCM HTTP v1 (POST {FCM_URL}/v1/projects/{project}/messages:send, one message each, with an OAuth2
  access token from the service account: a JWT signed RS256 with its key, exchanged at its token_uri or
  FCM_TOKEN_URL). A 404 / UNREGISTERED answer means the app was uninstalled.

Each sender is off until configured (EXPO_PUSH_ENABLED; FCM_SERVICE_ACCOUNT_FILE + FCM_PROJECT_ID).
Invalid-token answers remove the token (`forget`). Sending is HTTP: call it with no transaction open,
then `forget` in the caller's transaction."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Optional, Protocol

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from flask import current_app
from sqlalchemy import delete

from ..extensions import db
from ..models import DeviceToken
from ..models._common import utcnow
from .users import DEVICE_TOKEN_MAX, MAX_DEVICE_TOKENS, UserError

PLATFORMS = ("ios", "android", "expo")
EXPO_BATCH = 100  # messages per request (Expo's limit)
TIMEOUT = 10
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


@dataclass
class Message:
    title: str
    body: str
    url: str = ""  # the deep link the app opens
    data: dict = field(default_factory=dict)


@dataclass
class Result:
    sent: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # the service says the token is dead: remove it
    errors: list[str] = field(default_factory=list)  # anything else (worth a retry)


class Sender(Protocol):
    name: str

    def send(self, tokens: list[str], message: Message) -> Result: ...


def is_expo_token(token: str) -> bool:
    return token.startswith(("ExponentPushToken[", "ExpoPushToken["))


# ---------------------------------------------------------------------------------------------
# Devices


def clean_device(token, platform) -> tuple[str, str]:
    if not isinstance(token, str) or not token.strip() or len(token.strip()) > DEVICE_TOKEN_MAX:
        raise UserError("token", f"token must be a non-empty string of at most {DEVICE_TOKEN_MAX} characters")
    if any(c.isspace() or ord(c) < 32 for c in token.strip()):
        raise UserError("token", "token must not contain spaces or control characters")
    if platform not in PLATFORMS:
        raise UserError("platform", f"platform must be one of {', '.join(PLATFORMS)}")
    return token.strip(), platform


def devices(user_id: int) -> list[DeviceToken]:
    return list(
        db.session.execute(
            db.select(DeviceToken).where(DeviceToken.user_id == user_id).order_by(DeviceToken.id)
        ).scalars()
    )


def register(user_id: int, token: str, platform: str) -> DeviceToken:
    """Register one device (clean_device first). A token names one device: registered for another
    player, it moves to this one. Past MAX_DEVICE_TOKENS the oldest of the player's goes."""
    row = db.session.execute(db.select(DeviceToken).where(DeviceToken.token == token)).scalar_one_or_none()
    if row is None:
        row = DeviceToken(token=token, created_at=utcnow())
        db.session.add(row)
    row.user_id, row.platform = user_id, platform
    db.session.flush()
    for old in devices(user_id)[:-MAX_DEVICE_TOKENS]:
        if old.id != row.id:
            db.session.delete(old)
    return row


def remove(user_id: int, token: str) -> bool:
    res = db.session.execute(delete(DeviceToken).where(DeviceToken.user_id == user_id, DeviceToken.token == token))
    return res.rowcount > 0


def forget(tokens: list[str]) -> int:
    """Remove tokens a push service called invalid (whoever holds them)."""
    if not tokens:
        return 0
    return db.session.execute(delete(DeviceToken).where(DeviceToken.token.in_(tokens))).rowcount


# ---------------------------------------------------------------------------------------------
# Expo


class ExpoSender:
    name = "expo"

    def __init__(self, url: str, access_token: Optional[str] = None, session: Optional[requests.Session] = None):
        self.url, self.access_token = url, access_token
        self.session = session or requests.Session()

    def _message(self, token: str, m: Message) -> dict:
        return {"to": token, "title": m.title, "body": m.body, "data": {**m.data, "url": m.url}, "sound": "default"}

    def send(self, tokens: list[str], message: Message) -> Result:
        out = Result()
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.access_token:  # Expo's "enhanced push security"
            headers["Authorization"] = f"Bearer {self.access_token}"
        for i in range(0, len(tokens), EXPO_BATCH):
            chunk = tokens[i : i + EXPO_BATCH]
            try:
                r = self.session.post(
                    self.url, json=[self._message(t, message) for t in chunk], headers=headers, timeout=TIMEOUT
                )
                tickets = r.json().get("data") if r.status_code == 200 else None
            except (requests.RequestException, ValueError) as e:
                out.errors.append(f"expo: {type(e).__name__}: {e}")
                continue
            if not isinstance(tickets, list) or len(tickets) != len(chunk):
                out.errors.append(f"expo: HTTP {r.status_code}")
                continue
            for token, ticket in zip(chunk, tickets):
                if ticket.get("status") == "ok":
                    out.sent.append(token)
                elif (ticket.get("details") or {}).get("error") == "DeviceNotRegistered":
                    out.invalid.append(token)
                else:
                    out.errors.append(f"expo: {ticket.get('message') or ticket}")
        return out


# ---------------------------------------------------------------------------------------------
# FCM HTTP v1


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class FcmSender:
    name = "fcm"

    def __init__(
        self,
        account: dict,
        project: str,
        base_url: str = "https://fcm.googleapis.com",
        token_url: Optional[str] = None,
        session: Optional[requests.Session] = None,
    ):
        self.account, self.project = account, project
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url or account.get("token_uri") or "https://oauth2.googleapis.com/token"
        self.session = session or requests.Session()
        self._token: Optional[str] = None
        self._token_until = 0.0

    def assertion(self, now: Optional[float] = None) -> str:
        """The service account's signed JWT (RFC 7523) asking for the messaging scope."""
        iat = int(now if now is not None else time.time())
        head = {"alg": "RS256", "typ": "JWT", "kid": self.account.get("private_key_id", "")}
        claims = {
            "iss": self.account["client_email"],
            "scope": FCM_SCOPE,
            "aud": self.token_url,
            "iat": iat,
            "exp": iat + 3600,
        }
        signing = f"{_b64url(json.dumps(head).encode())}.{_b64url(json.dumps(claims).encode())}"
        key = serialization.load_pem_private_key(self.account["private_key"].encode(), password=None)
        return signing + "." + _b64url(key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256()))

    def access_token(self) -> str:
        if self._token and time.time() < self._token_until:
            return self._token
        r = self.session.post(
            self.token_url,
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": self.assertion()},
            timeout=TIMEOUT,
        )
        r.raise_for_status()
        body = r.json()
        self._token = body["access_token"]
        self._token_until = time.time() + int(body.get("expires_in", 3600)) - 60
        return self._token

    def send(self, tokens: list[str], message: Message) -> Result:
        out = Result()
        if not tokens:
            return out
        try:
            bearer = self.access_token()
        except (requests.RequestException, ValueError, KeyError) as e:
            out.errors.append(f"fcm: no access token: {type(e).__name__}: {e}")
            return out
        url = f"{self.base_url}/v1/projects/{self.project}/messages:send"
        for token in tokens:
            body = {
                "message": {
                    "token": token,
                    "notification": {"title": message.title, "body": message.body},
                    "data": {k: str(v) for k, v in {**message.data, "url": message.url}.items()},
                }
            }
            try:
                r = self.session.post(url, json=body, headers={"Authorization": f"Bearer {bearer}"}, timeout=TIMEOUT)
            except requests.RequestException as e:
                out.errors.append(f"fcm: {type(e).__name__}: {e}")
                continue
            if r.status_code == 200:
                out.sent.append(token)
            elif r.status_code == 404 or "UNREGISTERED" in r.text:
                out.invalid.append(token)
            else:
                out.errors.append(f"fcm: HTTP {r.status_code}")
        return out


# ---------------------------------------------------------------------------------------------
# Configuration


def senders() -> dict[str, Sender]:
    """The configured senders by name ("expo", "fcm"); none when nothing is configured."""
    cfg = current_app.config
    out: dict[str, Sender] = {}
    if cfg.get("EXPO_PUSH_ENABLED"):
        out["expo"] = ExpoSender(cfg["EXPO_PUSH_URL"], cfg.get("EXPO_ACCESS_TOKEN"))
    if cfg.get("FCM_SERVICE_ACCOUNT_FILE") and cfg.get("FCM_PROJECT_ID"):
        cache = current_app.extensions.setdefault("gamify.fcm", {})
        if "sender" not in cache:  # one per process: its access token is reused for an hour
            with open(cfg["FCM_SERVICE_ACCOUNT_FILE"], encoding="utf-8") as f:
                account = json.load(f)
            cache["sender"] = FcmSender(account, cfg["FCM_PROJECT_ID"], cfg["FCM_URL"], cfg.get("FCM_TOKEN_URL"))
        out["fcm"] = cache["sender"]
    return out


def sender_for(device: DeviceToken) -> str:
    return "expo" if device.platform == "expo" or is_expo_token(device.token) else "fcm"


def send_to(devices_: list[DeviceToken], message: Message, available: Optional[dict] = None) -> Result:
    """Send to each device through its configured sender (devices without one are left out)."""
    available = senders() if available is None else available
    by_sender: dict[str, list[str]] = {}
    for d in devices_:
        name = sender_for(d)
        if name in available:
            by_sender.setdefault(name, []).append(d.token)
    out = Result()
    for name, tokens in by_sender.items():
        r = available[name].send(tokens, message)
        out.sent += r.sent
        out.invalid += r.invalid
        out.errors += r.errors
    return out
