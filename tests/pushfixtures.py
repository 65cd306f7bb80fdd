"""Web Push test helpers: a browser's side of a subscription (its P-256 key pair and auth secret), a push
service on loopback that keeps every request, and the checks a real push service and browser make: the
VAPID JWT (RFC 8292: ES256 signature by the key in `k`, aud = the endpoint's origin, exp within 24 h)
and the aes128gcm payload (RFC 8291), decrypted with the subscription's private key.

    from tests.pushfixtures import push_service  # noqa: F401
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.mailfixtures import loopback_http


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """What a browser keeps for one subscription: the private half of p256dh, and the auth secret."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def json(self) -> dict:
        """The PushSubscription.toJSON() a browser gives the page."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm")
        return json.loads(plain)


@dataclass
class PushRequest:
    path: str
    headers: dict
    body: bytes


def verify_vapid(headers: dict, endpoint_origin: str) -> dict:
    """Check the Authorization header as a push service does; returns the JWT's claims and key."""
    auth = headers.get("authorization") or ""
    scheme, _, params = auth.partition(" ")
    assert scheme == "vapid", auth
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    token, key = parts["t"], parts["k"]
    head_b64, claims_b64, sig_b64 = token.split(".")
    assert json.loads(unb64url(head_b64)) == {"typ": "JWT", "alg": "ES256"}
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    sig = unb64url(sig_b64)
    assert len(sig) == 64  # JWS ES256: r || s, 32 bytes each
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as e:  # pragma: no cover - the assertion's message
        raise AssertionError("the VAPID JWT's signature does not verify with its key") from e
    claims = json.loads(unb64url(claims_b64))
    assert claims["aud"] == endpoint_origin
    return {"claims": claims, "k": key}


@dataclass
class PushService:
    """Answers each POST with the status given for its path (default 201), keeping every request."""

    statuses: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)
    server: Optional[ThreadingHTTPServer] = None

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def to(self, name: str) -> list[PushRequest]:
        return [r for r in self.requests if r.path == f"/push/{name}"]


@pytest.fixture
def push_service():
    service = PushService()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            service.requests.append(PushRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status = service.statuses.get(self.path.rsplit("/", 1)[-1], 201)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    with loopback_http(Handler) as service.server:
        yield service
