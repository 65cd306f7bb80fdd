"""Players (with the host product's profile fields and device tokens), admins, API keys and the
attributes players and events carry."""

from datetime import date, datetime
from typing import Optional

from flask_login import UserMixin
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ._common import JSONType, UTCDateTime, utcnow

ROLE_PLAYER = "player"
ROLE_ADMIN = "admin"
THEMES = ("light", "dark")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The host product's own id for this player (string so UUIDs fit); admins may have none.
    external_id: Mapped[Optional[str]] = mapped_column(String(128), unique=True, index=True)
    email: Mapped[Optional[str]] = mapped_column(String(255), unique=True, index=True)
    password_hash: Mapped[Optional[str]] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The language the player chose (gamify.i18n.LANGUAGES); None: their browser's, else the admin's default.
    locale: Mapped[Optional[str]] = mapped_column(String(16))
    attributes: Mapped[dict] = mapped_column(JSONType, default=dict)
    control_group: Mapped[bool] = mapped_column(Boolean, default=False)
    role: Mapped[str] = mapped_column(String(16), default=ROLE_PLAYER, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # When the player signed up in the host product (its own calendar day; gamify's row may be younger).
    sign_up_date: Mapped[Optional[date]] = mapped_column(Date)
    # The host product's master switch for gamify's e-mails (false: none is sent, whatever the per-type
    # preferences say; reminders.compose skips them).
    subscribe_to_emails: Mapped[bool] = mapped_column(Boolean, default=True)
    # The colour theme the player chose with the toggle (one of THEMES); None follows the device's
    # preference (prefers-color-scheme). Remembered here so it follows the player to every device.
    theme: Mapped[Optional[str]] = mapped_column(String(8))

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def name(self) -> str:
        return self.display_name or self.external_id or (self.email or "").split("@")[0] or f"#{self.id}"


class DeviceToken(db.Model):
    """A push token of one of the player's devices, as the host product sends it (for push notifications).
    A token names one device: registered for another player, it moves to them."""

    __tablename__ = "device_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token: Mapped[str] = mapped_column(String(512), unique=True)
    # ios / android / expo ('' when the host product did not say: an Expo token is recognised by its
    # form, any other goes to FCM, which serves Android and iOS apps alike).
    platform: Mapped[str] = mapped_column(String(16), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(db.Model):
    """Host-app credentials; only a SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # An application key (Trophy's, made through its admin API): it acts for this one player, on the
    # Trophy application API only (gamify/trophy/base.py checks every request). None: a host-app key.
    user_external_id: Mapped[Optional[str]] = mapped_column(String(128))


class AttributeDefinition(db.Model):
    """An attribute declared by name (Trophy's admin API declares them; gamify takes any attribute a product
    sends, declared or not). Only a name and whether players or events carry it: filters and breakdowns
    name attributes by key."""

    __tablename__ = "attribute_definitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(8), default="user")  # user|event
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsedLoginLink(db.Model):
    """Nonces of e-mailed login links already used: a link signs in once. Rows are forgotten once the
    link would have expired anyway (jobs.prune_logs)."""

    __tablename__ = "used_login_links"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
