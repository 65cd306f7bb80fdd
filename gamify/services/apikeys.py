"""API keys: shown once, stored as SHA-256. A host-app key acts for every player; an application key
(Trophy's, `user_external_id` set) acts for one player, on the Trophy application API only."""

import hashlib
import secrets
from datetime import datetime
from typing import NamedTuple, Optional

from sqlalchemy import bindparam, select, update

from ..extensions import db
from ..models import ApiKey
from ..models._common import utcnow


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(name: str, user_external_id: Optional[str] = None) -> tuple[ApiKey, str]:
    """A new key and its secret (shown once). `user_external_id`: an application key for that player."""
    secret = ("ga_" if user_external_id is not None else "gk_") + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=secret[:10],
        key_hash=_hash(secret),
        created_at=utcnow(),
        user_external_id=user_external_id,
    )
    db.session.add(key)
    return key, secret


class VerifiedKey(NamedTuple):
    id: int
    name: str
    last_used_at: Optional[datetime]
    user_external_id: Optional[str]  # an application key's player (None: a host-app key)


# Every API request asks this: a plain statement built once, no ORM object.
_VERIFY = select(ApiKey.id, ApiKey.name, ApiKey.last_used_at, ApiKey.user_external_id).where(
    ApiKey.key_hash == bindparam("h"), ApiKey.revoked_at.is_(None)
)


def verify(secret: Optional[str]) -> Optional[VerifiedKey]:
    """The key a secret belongs to, unless unknown or revoked (checked on every request: a revoked key
    stops working at once)."""
    if not secret:
        return None
    row = db.session.execute(_VERIFY, {"h": _hash(secret)}).first()
    return VerifiedKey(*row) if row is not None else None


def touch(key: VerifiedKey, now: datetime) -> None:
    """Record the key's last use (callers do it at most once a minute per key)."""
    db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))


def all_keys() -> list[ApiKey]:
    """Every key, revoked ones too, newest first."""
    return list(db.session.execute(select(ApiKey).order_by(ApiKey.created_at.desc())).scalars())


def by_id(key_id: int) -> Optional[ApiKey]:
    return db.session.get(ApiKey, key_id)


def revoke(key: ApiKey, now: Optional[datetime] = None) -> bool:
    """Refuse the key from now on; False if it was revoked already."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = now or utcnow()
    return True
