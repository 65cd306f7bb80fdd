"""Webhook signing: endpoint secrets, the signature header a delivery carries, and its check for
receivers (verify_signature), with the other headers a delivery sends.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Optional

SIGNATURE_HEADER = "X-Gamify-Signature"
TIMESTAMP_HEADER = "X-Gamify-Timestamp"
EVENT_HEADER = "X-Gamify-Event"
DELIVERY_HEADER = "X-Gamify-Delivery"


DEFAULT_TOLERANCE = 300  # seconds a signature stays acceptable


def generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def compute_signature(secret: str, timestamp: int, body: bytes | str) -> str:
    if isinstance(body, str):
        body = body.encode()
    return hmac.new(secret.encode(), f"{int(timestamp)}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes | str, timestamp: Optional[int] = None) -> str:
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={compute_signature(secret, ts, body)}"


def verify_signature(
    secret: str,
    body: bytes | str,
    header: Optional[str],
    tolerance: int = DEFAULT_TOLERANCE,
    now: Optional[float] = None,
) -> bool:
    """For receivers: True when `header` (the X-Gamify-Signature value) signs exactly `body` (the raw
    request body, before any JSON parsing) with `secret`, and its timestamp is within `tolerance`
    seconds of now (replay protection; tolerance=0 disables that check). Several v1= entries are
    accepted (one matching is enough)."""
    if not header or not secret:
        return False
    ts, sigs = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():  # ('²'.isdigit() is true too)
            ts = int(value)
        elif key == "v1" and value:
            sigs.append(value.strip())
    if ts is None or not sigs:
        return False
    if tolerance and abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    expected = compute_signature(secret, ts, body)
    return any(hmac.compare_digest(expected, s) for s in sigs)
