"""What players and the host app do with energy: perform an action (energy spent and its metric event
recorded together), buy a refill or a boost with tokens, premium tier, skills, resting, admin
adjustments."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional, Union

from sqlalchemy import func, select

from ... import i18n
from ...engine import energy as engine
from ...extensions import db
from ...models import (
    EnergyBoost,
    EnergyTransaction,
    PlayerBoost,
    User,
)
from .. import daily
from .. import points as points_svc
from ..events import process_event
from .catalogue import (
    SKILL_NAME,
    EnergyError,
    get_action,
    get_settings,
    resolve_difficulty,
    token_balance,
    token_system,
)
from .ledger import _after_write, _credit, _ledger, _lock, _now, _refresh_env

_ = i18n.gettext


def perform_action(
    user: User,
    key: str,
    difficulty: Optional[str] = None,
    *,
    now: Optional[datetime] = None,
    idempotency_key: Optional[str] = None,
    tz: Optional[str] = None,
    attributes=None,
    commit: bool = True,
) -> dict:
    """Do an action: spend its energy and record its metric event, in one transaction (process_event)."""

    action = get_action(key)
    resolve_difficulty(action, difficulty)
    return process_event(
        action.metric_key,
        user,
        action.metric_value,
        tz=tz,
        attributes=attributes,
        idempotency_key=idempotency_key,
        now=now,
        options={"action": action.key, "difficulty": difficulty},
        commit=commit,
    )


def _debit_tokens(user: User, tokens: int, trigger_type: str, reason: str, now: datetime) -> None:
    if tokens <= 0:
        return
    system = token_system()
    try:
        points_svc.award(user, system, -tokens, trigger_type, reason=reason, now=now)
    except points_svc.PointsError as e:
        raise EnergyError(
            "tokens",
            _(
                "Not enough %(system)s: %(needed)s needed, %(available)s available.",
                system=system.name,
                needed=i18n.num(tokens),
                available=i18n.num(token_balance(user)),
            ),
            409,
            required=tokens,
            available=token_balance(user),
        ) from e


def refill(user: User, tokens: int, now: Optional[datetime] = None) -> dict:
    """Buy energy with tokens (1 token = energy_per_token). Never above max: only the tokens needed are
    charged; refused when already full. Tokens are debited in the same transaction."""
    now = _now(now)
    if isinstance(tokens, bool) or not isinstance(tokens, int):
        raise EnergyError("tokens", "tokens must be a whole number")
    token_system()
    L = _lock(user, now)
    s = L.s
    try:
        charge, energy = engine.refill_quote(
            tokens, L.row.current, L.max, s.energy_per_token, s.max_tokens_per_refill, s.max_energy_per_refill
        )
    except ValueError as e:
        full = L.row.current >= L.max
        raise EnergyError(
            "tokens", str(e)[0].upper() + str(e)[1:] + ".", 409 if full else 400, current=L.row.current, max=L.max
        ) from e
    _debit_tokens(user, charge, "refill", f"energy refill +{energy}", now)
    added = _credit(L, energy, "token_refill", meta={"tokens": charge, "requested_tokens": tokens})
    _after_write(L, added_by_player=True)
    return {"tokens_charged": charge, "energy_added": added, "current": L.row.current, "max": L.max}


def apply_boost(user: User, boost: Union[str, EnergyBoost], now: Optional[datetime] = None) -> PlayerBoost:
    """Buy and apply a catalogue boost: tokens debited, effect active from now until its expiry."""
    now = _now(now)
    if isinstance(boost, str):
        boost = db.session.execute(db.select(EnergyBoost).where(EnergyBoost.key == boost)).scalar_one_or_none()
    if boost is None or not boost.active:
        raise EnergyError("boost", "unknown boost", 404)
    if boost.token_cost > 0:
        token_system()
    L = _lock(user, now)
    if boost.type == "instant_refill":
        if L.row.current >= L.max:
            raise EnergyError("boost", _("Your energy is already full."), 409)
    else:
        same = (
            db.session.execute(
                db.select(PlayerBoost).where(
                    PlayerBoost.user_id == user.id,
                    PlayerBoost.boost_id == boost.id,
                    (PlayerBoost.expires_at.is_(None)) | (PlayerBoost.expires_at > now),
                )
            )
            .scalars()
            .first()
        )
        if same is not None:
            if same.expires_at is None:
                message = _("%(boost)s is already active for good.", boost=boost.name)
            else:
                until = i18n.localdt(same.expires_at, user.timezone)
                message = _("%(boost)s is already active until %(when)s.", boost=boost.name, when=until)
            raise EnergyError("boost", message, 409)
    _debit_tokens(user, boost.token_cost, "spend", f"energy boost {boost.key}", now)
    expires = None
    if boost.type == "instant_refill":
        expires = now
    elif boost.duration_minutes:
        expires = now + timedelta(minutes=boost.duration_minutes)
    pb = PlayerBoost(
        user_id=user.id,
        boost_id=boost.id,
        type=boost.type,
        effect_value=boost.effect_value,
        applied_at=now,
        expires_at=expires,
        tokens_paid=boost.token_cost,
        name=boost.name,
    )
    db.session.add(pb)
    db.session.flush()
    meta = {
        "boost": boost.key,
        "type": boost.type,
        "effect_value": boost.effect_value,
        "tokens": boost.token_cost,
        "expires_at": expires.isoformat() if expires else None,
    }
    if boost.type == "instant_refill":
        amount = int(boost.effect_value or 0) or (L.max - L.row.current)
        _credit(L, amount, "boost_applied", related_type="boost", related_id=pb.id, meta=meta)
    else:
        _refresh_env(L)
        _ledger(user.id, "boost_applied", 0, L.row.current, L.row.current, "boost", pb.id, meta, now)
    _after_write(L, added_by_player=True)
    return pb


def set_premium(user: User, premium: bool, now: Optional[datetime] = None) -> dict:
    """Change tier. Upgrading at full energy fills to the new max; otherwise the current value is kept."""
    L = _lock(user, _now(now))
    was_full = L.row.current >= L.max
    L.row.premium = bool(premium)
    _refresh_env(L)
    if premium and was_full and L.row.current < L.max:
        _credit(L, L.max - L.row.current, "admin_adjust", meta={"reason": "premium upgrade at full energy"})
    _after_write(L, added_by_player=True)
    return {"premium": L.row.premium, "current": L.row.current, "max": L.max}


def set_skills(user: User, skills: dict, now: Optional[datetime] = None) -> dict:
    if not isinstance(skills, dict) or not skills:
        raise EnergyError("skills", "skills must be an object of skill name -> level 0-100")
    clean = {}
    for name, level in skills.items():
        if not isinstance(name, str) or not SKILL_NAME.match(name):
            raise EnergyError("skills", f"invalid skill name {name!r} (lowercase letters, digits, _)")
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= engine.SKILL_MAX:
            raise EnergyError(f"skills.{name}", f"skill {name} must be a whole number from 0 to 100")
        clean[name] = level
    L = _lock(user, _now(now))
    L.row.skills = {**(L.row.skills or {}), **clean}
    _refresh_env(L)
    _after_write(L, added_by_player=True)
    return dict(L.row.skills)


def set_resting(user: User, until: Optional[datetime], reason: str = "", now: Optional[datetime] = None) -> None:
    """Incapacitate (regen continues, spending refused) until `until`; None ends it."""
    L = _lock(user, _now(now))
    L.row.incapacitated_until = until
    L.row.incapacitated_reason = (reason or "")[:120] if until else ""


def adjust(
    user: User, amount: int, reason: str = "", now: Optional[datetime] = None, actor_id: Optional[int] = None
) -> dict:
    """Admin correction (may go above max; never below 0)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise EnergyError("amount", "amount must be a non-zero whole number")
    L = _lock(user, _now(now))
    before = L.row.current
    if before + amount < 0:
        raise EnergyError("amount", f"the player has only {before} energy", 409)
    L.row.current = before + amount
    L.row.updated_at = L.now
    _ledger(user.id, "admin_adjust", amount, before, L.row.current, "user", actor_id, {"reason": reason[:200]}, L.now)
    _after_write(L, added_by_player=True)
    return {"current": L.row.current, "max": L.max}


def grant_daily(now: Optional[datetime] = None) -> int:
    """Scheduled: the settings' `daily_grant` of energy to every player once a day, at their local
    midnight (capped at max; a full player's day is recorded with +0). A late run still grants the day;
    no day is granted twice. Returns how many players were granted."""
    now = _now(now)
    amount = get_settings().daily_grant or 0
    if amount <= 0:
        return 0
    last = dict(
        db.session.execute(
            select(EnergyTransaction.user_id, func.max(EnergyTransaction.created_at))
            .where(EnergyTransaction.type == "daily_grant")
            .group_by(EnergyTransaction.user_id)
        ).all()
    )
    granted = 0
    for user, today in daily.players_due(now, last):
        L = _lock(user, now)
        _credit(L, amount, "daily_grant", meta={"day": today.isoformat()})
        _after_write(L, added_by_player=False)
        granted += 1
    return granted
