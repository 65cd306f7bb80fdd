"""Players: identify from the host app, sign up in the browser, time zone changes."""
from __future__ import annotations

from typing import Optional

from ..engine import calendar as cal
from ..extensions import db
from ..models import ROLE_PLAYER, User
from ..models._common import utcnow
from . import achievements, points


class UserError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def by_external_id(external_id: str) -> Optional[User]:
    return db.session.execute(db.select(User).where(User.external_id == external_id)).scalar_one_or_none()


def on_created(user: User) -> None:
    """Everything a new player gets: signup points, and rarity shifts as the player base grows."""
    db.session.flush()
    points.on_signup(user)
    achievements.refresh_rarity()
    from . import streaks  # initial freezes are granted with the streak row
    rules = streaks.current_rules()
    if rules is not None:
        streaks.get_or_create_row(user.id, rules)


def identify(external_id: str, *, name: Optional[str] = None, email: Optional[str] = None,
             tz: Optional[str] = None, attributes: Optional[dict] = None) -> tuple[User, bool]:
    """Create or update a player by the host app's id. Returns (user, created)."""
    if tz is not None:
        try:
            cal.zone(tz)
        except cal.InvalidTimezone as e:
            raise UserError("tz", str(e))
    user = by_external_id(external_id)
    created = user is None
    if created:
        user = User(external_id=external_id, role=ROLE_PLAYER, timezone=tz or "UTC", attributes={},
                    display_name=name or external_id, created_at=utcnow())
        db.session.add(user)
    if name is not None:
        user.display_name = name
    if email is not None:
        other = db.session.execute(db.select(User).where(User.email == email.lower())).scalar_one_or_none()
        if other is not None and other.id != user.id:
            raise UserError("email", "that email belongs to another user")
        user.email = email.lower()
    if tz is not None:
        user.timezone = tz
    if attributes is not None:
        user.attributes = {**(user.attributes or {}), **attributes}
    if created:
        on_created(user)
    return user, created


def signup(email: str, password: str, display_name: str, tz: str, attributes: Optional[dict] = None) -> User:
    email = email.strip().lower()
    if db.session.execute(db.select(User.id).where(User.email == email)).first():
        raise UserError("email", "an account with this email already exists")
    try:
        cal.zone(tz)
    except cal.InvalidTimezone as e:
        raise UserError("timezone", str(e))
    user = User(email=email, display_name=display_name, timezone=tz, role=ROLE_PLAYER,
                attributes=attributes or {}, created_at=utcnow())
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    user.external_id = user.external_id or f"web-{user.id}"
    on_created(user)
    return user
