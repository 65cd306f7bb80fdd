"""API keys for the host app: shown once, stored as SHA-256."""
import hashlib
import secrets
from typing import Optional

from ..extensions import db
from ..models import ApiKey
from ..models._common import utcnow


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(name: str) -> tuple[ApiKey, str]:
    secret = "gk_" + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=secret[:10], key_hash=_hash(secret), created_at=utcnow())
    db.session.add(key)
    return key, secret


def verify(secret: Optional[str]) -> Optional[ApiKey]:
    if not secret:
        return None
    key = db.session.execute(db.select(ApiKey).where(ApiKey.key_hash == _hash(secret))).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    return key
