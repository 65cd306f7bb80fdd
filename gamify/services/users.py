"""Players: identify from the host app (one or many, with the product's profile fields: sign-up day,
the e-mail switch, device tokens), sign up in the browser, time zone changes, look-ups, and one player's
ledgers page by page (the admin player page)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable, Optional

import email_validator
from sqlalchemy import delete, func, or_
from werkzeug.security import generate_password_hash

from .. import params
from ..engine import calendar as cal
from ..extensions import db
from ..models import (
    ROLE_PLAYER,
    THEMES,
    AchievementCompletion,
    DeviceToken,
    FreezeLedger,
    MetricEvent,
    PointsAward,
    StreakPeriod,
    User,
)
from ..models._common import utcnow
from ..models.webhooks import MessagingSettings
from . import achievements, points, streaks
from .upsert import dialect_insert

# Self-hosted installs (and the demo) use addresses on intranet domains such as `.local`, which
# email-validator refuses as special-use names by default; it documents this list as adjustable.
email_validator.SPECIAL_USE_DOMAIN_NAMES = [d for d in email_validator.SPECIAL_USE_DOMAIN_NAMES if d != "local"]


def clean_email(address: str) -> str:
    """One address, checked (email-validator: one mailbox, no commas, spaces or line breaks that
    could add recipients or headers) and lower-cased; raises UserError("email", why)."""
    if not isinstance(address, str) or len(address) > 255:
        raise UserError("email", "email must be one address of at most 255 characters")
    try:
        return email_validator.validate_email(address.strip(), check_deliverability=False).normalized.lower()
    except email_validator.EmailNotValidError as e:
        raise UserError("email", f"not a valid email address: {e}") from e


class UserError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def by_external_id(external_id: str) -> Optional[User]:
    return db.session.execute(db.select(User).where(User.external_id == external_id)).scalar_one_or_none()


def by_id(user_id: int) -> Optional[User]:
    return db.session.get(User, user_id)


def by_email_or_external_id(who: str) -> Optional[User]:
    """The user an admin names by e-mail (any case) or by the host app's id."""
    return (
        db.session.execute(db.select(User).where((User.email == who.lower()) | (User.external_id == who)))
        .scalars()
        .first()
    )


def emails_by_id(user_ids: Iterable[int]) -> dict[int, Optional[str]]:
    ids = set(user_ids)
    if not ids:
        return {}
    return dict(db.session.execute(db.select(User.id, User.email).where(User.id.in_(ids))).all())


def search_players(text: str, as_id: Optional[int], page: int, per_page: int):
    """A page of players whose e-mail, name or external id contains `text` (any case), or whose id is
    `as_id`; everyone for empty text. The most recently seen first."""
    stmt = db.select(User).where(User.role == ROLE_PLAYER)
    text = (text or "").strip()
    if text:
        like = f"%{text.lower()}%"
        conds = [
            func.lower(User.email).like(like),
            func.lower(User.display_name).like(like),
            func.lower(User.external_id).like(like),
        ]
        if as_id is not None:
            conds.append(User.id == as_id)
        stmt = stmt.where(or_(*conds))
    stmt = stmt.order_by(User.last_seen_at.desc().nulls_last(), User.id.desc())
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


_LEDGERS = {
    "events": (MetricEvent, (MetricEvent.occurred_at.desc(), MetricEvent.id.desc())),
    "points": (PointsAward, (PointsAward.awarded_at.desc(), PointsAward.id.desc())),
    "streak": (StreakPeriod, (StreakPeriod.period_start.desc(),)),
    "freezes": (FreezeLedger, (FreezeLedger.created_at.desc(), FreezeLedger.id.desc())),
    "achievements": (AchievementCompletion, (AchievementCompletion.completed_at.desc(),)),
}


def ledger_page(user_id: int, ledger: str, page: int, per_page: int):
    """A page of one of the player's ledgers, newest first: "points", "streak", "freezes", "achievements",
    anything else the metric events."""
    model, order = _LEDGERS.get(ledger, _LEDGERS["events"])
    stmt = db.select(model).where(model.user_id == user_id).order_by(*order)
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def activity_counts(user_id: int) -> dict[str, int]:
    """How many events the player recorded and achievements they hold."""
    return {
        "events": db.session.execute(
            db.select(func.count(MetricEvent.id)).where(MetricEvent.user_id == user_id)
        ).scalar_one(),
        "achievements": db.session.execute(
            db.select(func.count(AchievementCompletion.id)).where(AchievementCompletion.user_id == user_id)
        ).scalar_one(),
    }


def on_created(user: User) -> None:
    """Everything a new player gets: signup points, and rarity shifts as the player base grows."""
    db.session.flush()
    points.on_signup(user)
    achievements.refresh_rarity()

    rules = streaks.current_rules()
    if rules is not None:
        streaks.get_or_create_row(user.id, rules)


# ---------------------------------------------------------------------------------------------
# The host product's profile fields: sign-up day, the e-mail switch, device tokens

MAX_DEVICE_TOKENS = 20  # devices per player
DEVICE_TOKEN_MAX = 512  # characters: FCM tokens are ~160, APNs 64 hex digits
SIGN_UP_YEARS = (1970, 2200)


def clean_sign_up_date(value: Any, tz: str, now: Optional[datetime] = None) -> date:
    """The host product's sign-up day: a date (YYYY-MM-DD), or an ISO 8601 date-time taken as its UTC
    calendar day (Trophy's rule); not after today in the player's zone `tz`. UserError("sign_up_date")."""
    day = value if isinstance(value, date) and not isinstance(value, datetime) else None
    if isinstance(value, datetime):
        day = value.astimezone(timezone.utc).date() if value.tzinfo else value.date()
    elif isinstance(value, str) and day is None:
        raw = value.strip()
        try:
            if len(raw) == 10:
                day = date.fromisoformat(raw)
            elif len(raw) > 10:
                moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
                day = moment.astimezone(timezone.utc).date() if moment.tzinfo else moment.date()
        except ValueError:
            day = None
    if day is None:
        raise UserError("sign_up_date", "sign_up_date must be a date (YYYY-MM-DD) or an ISO 8601 date-time")
    today = cal.local_date(now or utcnow(), tz)
    if day > today:
        raise UserError("sign_up_date", f"sign_up_date must not be after the player's today ({today.isoformat()})")
    if day.year < SIGN_UP_YEARS[0]:
        raise UserError("sign_up_date", f"sign_up_date must be in {SIGN_UP_YEARS[0]} or later")
    return day


def clean_device_tokens(value: Any) -> list[str]:
    """A list of at most MAX_DEVICE_TOKENS tokens (non-empty text of at most DEVICE_TOKEN_MAX characters),
    repeats dropped, order kept. UserError("device_tokens")."""
    if not isinstance(value, list):
        raise UserError("device_tokens", "device_tokens must be an array of strings")
    out: list[str] = []
    for i, token in enumerate(value):
        where = f"device_tokens[{i}]"
        if not isinstance(token, str) or not token.strip() or len(token) > DEVICE_TOKEN_MAX:
            raise UserError(where, f"{where} must be a non-empty string of at most {DEVICE_TOKEN_MAX} characters")
        if params.text_problem(token):
            raise UserError(where, f"{where} {params.text_problem(token)}")
        if token.strip() not in out:
            out.append(token.strip())
    if len(out) > MAX_DEVICE_TOKENS:
        raise UserError(
            "device_tokens", f"device_tokens holds at most {MAX_DEVICE_TOKENS} tokens per player (got {len(out)})"
        )
    return out


def device_tokens(user_id: int) -> list[str]:
    """The player's device tokens, oldest first."""
    return list(
        db.session.execute(
            db.select(DeviceToken.token).where(DeviceToken.user_id == user_id).order_by(DeviceToken.id)
        ).scalars()
    )


def set_device_tokens(user: User, tokens: list[str]) -> None:
    """Make `tokens` (clean_device_tokens) the player's device tokens: others are removed, and a token
    another player held moves to this one (a token names one device: the last player to register it)."""
    db.session.execute(
        delete(DeviceToken).where(
            or_(
                (DeviceToken.user_id == user.id) & DeviceToken.token.not_in(tokens or [""]),
                (DeviceToken.user_id != user.id) & DeviceToken.token.in_(tokens or [""]),
            )
        )
    )
    held = set(device_tokens(user.id))
    now = utcnow()
    for token in tokens:
        if token not in held:
            db.session.add(DeviceToken(user_id=user.id, token=token, created_at=now))
    db.session.flush()


def identify(
    external_id: str,
    *,
    name: Optional[str] = None,
    email: Optional[str] = None,
    tz: Optional[str] = None,
    attributes: Optional[dict] = None,
    sign_up_date: Any = None,
    subscribe_to_emails: Optional[bool] = None,
    device_tokens: Optional[list] = None,
) -> tuple[User, bool]:
    """Create or update a player by the host app's id. Returns (user, created). Fields left None are
    kept; `device_tokens` replaces the player's tokens ([] removes them)."""
    if email is not None:
        email = clean_email(email)
    if tz is not None:
        try:
            cal.zone(tz)
        except cal.InvalidTimezone as e:
            raise UserError("tz", str(e)) from e
    if device_tokens is not None:
        device_tokens = clean_device_tokens(device_tokens)
    if subscribe_to_emails is not None and not isinstance(subscribe_to_emails, bool):
        raise UserError("subscribe_to_emails", "subscribe_to_emails must be true or false")
    user = by_external_id(external_id)
    if sign_up_date is not None:
        sign_up_date = clean_sign_up_date(sign_up_date, tz or (user.timezone if user else "UTC"))
    created = False
    if user is None:
        # INSERT ... ON CONFLICT DO NOTHING: two first requests for one id race; the loser reads the
        # winner's row (committed: the conflict waited for it) instead of failing on the unique index.
        new_id = db.session.execute(
            dialect_insert(User)
            .values(
                external_id=external_id,
                role=ROLE_PLAYER,
                timezone=tz or "UTC",
                attributes={},
                control_group=in_control_group(external_id, control_ratio()),
                display_name=name or external_id,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["external_id"])
            .returning(User.id)
        ).scalar()
        created = new_id is not None
        user = db.session.get(User, new_id) if created else by_external_id(external_id)
    if name is not None:
        user.display_name = name
    if email is not None:
        other = db.session.execute(db.select(User).where(User.email == email)).scalar_one_or_none()
        if other is not None and other.id != user.id:
            raise UserError("email", "that email belongs to another user")
        user.email = email
    if tz is not None:
        user.timezone = tz
    if attributes is not None:
        user.attributes = {**(user.attributes or {}), **attributes}
    if sign_up_date is not None:
        user.sign_up_date = sign_up_date
    if subscribe_to_emails is not None:
        user.subscribe_to_emails = subscribe_to_emails
    if device_tokens is not None:
        set_device_tokens(user, device_tokens)
    if created:
        on_created(user)
    return user, created


def identify_many(items: list[dict], describe: Callable[[User, bool], Any]) -> list:
    """`identify(**item)` for each item, each in a savepoint of the caller's transaction: an item the
    service refuses is rolled back alone. One result per item, in order: `describe(user, created)` taken
    right after that item (a player named twice is described as each item left them), or its UserError."""
    results: list = []
    for item in items:
        try:
            with db.session.begin_nested():
                results.append(describe(*identify(**item)))
        except UserError as e:
            results.append(e)
    return results


def control_ratio() -> int:
    """The share of new players (percent) kept out of gamification as the control group."""

    ratio = db.session.execute(
        db.select(MessagingSettings.control_ratio).order_by(MessagingSettings.id).limit(1)
    ).scalar_one_or_none()
    return int(ratio or 0)


def in_control_group(external_id: str, ratio: int) -> bool:
    """Stable assignment at first sight: the same id always lands in the same group (a hash, not a coin),
    so a player who is created twice by racing requests cannot end up in both."""
    if ratio <= 0:
        return False
    bucket = int(hashlib.sha256(external_id.encode("utf-8")).hexdigest()[:8], 16) % 100
    return bucket < ratio


def signup(email: str, password: str, display_name: str, tz: str, attributes: Optional[dict] = None) -> User:
    email = clean_email(email)
    try:
        cal.zone(tz)
    except cal.InvalidTimezone as e:
        raise UserError("timezone", str(e)) from e
    # One statement decides who gets the address (two signups racing for it: one wins, one is told), and
    # the external id is random, so a host app can never take it first ("web-<next id>" could be).
    external_id = f"web-{uuid.uuid4().hex}"
    new_id = db.session.execute(
        dialect_insert(User)
        .values(
            email=email,
            display_name=display_name,
            timezone=tz,
            role=ROLE_PLAYER,
            attributes=attributes or {},
            control_group=in_control_group(external_id, control_ratio()),
            created_at=utcnow(),
            external_id=external_id,
            password_hash=generate_password_hash(password),
        )
        .on_conflict_do_nothing(index_elements=["email"])
        .returning(User.id)
    ).scalar()
    if new_id is None:
        raise UserError("email", "an account with this email already exists")
    user = db.session.get(User, new_id)
    on_created(user)
    return user


# ---------------------------------------------------------------------------------------------
# Look-ups and profile changes for the player's own pages (web/auth, web/links, web/player, web/energy)


def by_email(email: str) -> Optional[User]:
    """The account with this (already lower-cased) login address."""
    return db.session.execute(db.select(User).where(User.email == email)).scalar_one_or_none()


def update_profile(user: User, display_name: str, tz: str, locale: Optional[str] = None) -> None:
    """`locale`: a shipped language (gamify.i18n.LANGUAGES) or None for none of the player's own."""
    user.display_name = display_name
    user.timezone = tz
    user.locale = locale


def set_timezone(user: User, tz: str) -> None:
    user.timezone = tz


def set_theme(user: User, theme: Optional[str]) -> None:
    """The player's colour theme: "light", "dark", or None to follow the device again."""
    if theme is not None and theme not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)} or empty")
    user.theme = theme
