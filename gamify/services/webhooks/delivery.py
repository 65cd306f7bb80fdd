"""One webhook delivery's HTTP attempt (used by the deliver_webhook job): signed POST, no redirects,
private networks refused unless allowed, its outcome (Attempt) and telemetry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import requests
from flask import current_app

from ... import netguard
from ...netguard import BlockedAddress
from ...ops import telemetry
from .. import reminders
from .signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_header

TIMEOUT = 5  # seconds, connect and read


USER_AGENT = "gamify-webhooks/1"


@dataclass
class Attempt:
    ok: bool
    status_code: Optional[int]
    error: str
    final: bool = False  # no point retrying (the address is not allowed)


def allow_private_addresses() -> bool:
    """Admins may let webhooks call loopback/private addresses (a receiver on the same network);
    the operator may too (WEBHOOKS_ALLOW_PRIVATE)."""

    if current_app.config.get("WEBHOOKS_ALLOW_PRIVATE"):
        return True
    return bool(reminders.get_settings().webhooks_allow_private)


def post(
    url: str,
    secret: str,
    body: str,
    event_type: str,
    delivery_id: int,
    timestamp: Optional[int] = None,
    allow_private: bool = False,
) -> Attempt:
    """One HTTP attempt. Network errors and non-2xx replies are failures. Redirects are not followed
    (the signed body must reach the registered URL). Unless `allow_private`, the URL's addresses must
    be public, checked after resolution and again on connecting (gamify.netguard). Every attempt counts
    in the webhook deliveries series (delivered, failed: retried, refused: final)."""
    attempt = _attempt(url, secret, body, event_type, delivery_id, timestamp, allow_private)
    telemetry.delivered("webhook", "delivered" if attempt.ok else "refused" if attempt.final else "failed")
    return attempt


def _attempt(url, secret, body, event_type, delivery_id, timestamp, allow_private) -> Attempt:
    if not allow_private:
        refusal = netguard.check_url(url)
        if refusal:
            return Attempt(False, None, refusal, final=True)
    data = body.encode()
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secret, data, ts),
        TIMESTAMP_HEADER: str(ts),
        EVENT_HEADER: event_type,
        DELIVERY_HEADER: str(delivery_id),
    }
    try:
        resp = netguard.session(allow_private).post(
            url, data=data, headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as e:
        blocked = _blocked(e)
        if blocked is not None:
            return Attempt(False, None, str(blocked), final=True)
        return Attempt(False, None, f"{type(e).__name__}: {e}"[:2000])
    if 200 <= resp.status_code < 300:
        return Attempt(True, resp.status_code, "")
    snippet = (resp.text or "")[:300]
    return Attempt(False, resp.status_code, f"HTTP {resp.status_code}: {snippet}".strip()[:2000])


def _blocked(e: BaseException):
    """The netguard refusal inside a requests/urllib3 error chain, if that is what it was."""

    seen = 0
    while e is not None and seen < 10:
        if isinstance(e, BlockedAddress):
            return e
        seen += 1
        nxt = getattr(e, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = next((a for a in getattr(e, "args", ()) if isinstance(a, BaseException)), None)
        e = nxt or e.__cause__ or e.__context__
    return None
