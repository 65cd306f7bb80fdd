"""Energy: lazy regeneration, atomic spends, actions on the event engine, token refills, gifts, boosts,
notifications and the anti-cheat review. Services write in the caller's transaction and never commit
(except `expire_gifts_job`, an RQ entry point).

Public API (other teams):
  status(user, now=None) -> dict                 what the bar, the pages and the API show
  spend(user, amount, ...) / perform_action(...)  spend energy (actions go through events.process_event)
  refill(user, tokens) / apply_boost(user, key) / send_gift(...) / accept_gift(...)
  expire_gifts(now) -> int, expire_gifts_job()    scheduled job (idempotent)
  actions on events: gamify/pipeline/energy.py (the spend inside the event's transaction)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Optional, Union

from sqlalchemy import func, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm.attributes import set_committed_value

from ..engine import calendar as cal
from ..engine import energy as engine
from ..extensions import db
from ..models import (
    EnergyAction,
    EnergyBoost,
    EnergyGift,
    EnergyReview,
    EnergySettings,
    EnergyTransaction,
    PlayerBoost,
    PlayerEnergy,
    User,
)
from ..models._common import utcnow
from ..pipeline.base import EventError
from . import outbox, snapshot
from . import points as points_svc
from .upsert import dialect_insert

SETTINGS_ID = 1
HISTORY_PER_PAGE = 20
SPEND_TYPES = ("consumption", "gift_sent")
INFLOW_TYPES = ("token_refill", "gift_received", "gift_refund", "boost_applied", "admin_adjust")
SKILL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class EnergyError(EventError):
    """A refused energy operation: `field`, a message for people, an HTTP status and extra fields
    (e.g. required/available/seconds_until_enough). Subclasses EventError so that raised inside
    process_event it aborts the whole event, and the API answers it like any event error."""


# ------------------------------------------------------------------------------------------ settings


def _insert_ignore(model, values: dict, key: str) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, so concurrent first uses do not collide."""
    stmt = dialect_insert(model)
    if stmt is None:  # pragma: no cover - other databases
        try:
            with db.session.begin_nested():
                db.session.add(model(**values))
        except Exception:
            pass
        return
    db.session.execute(stmt.values(**values).on_conflict_do_nothing(index_elements=[key]))


def get_settings() -> EnergySettings:
    """The settings row (created with the defaults on first use)."""
    row = db.session.get(EnergySettings, SETTINGS_ID)
    if row is None:
        _insert_ignore(EnergySettings, {"id": SETTINGS_ID, "updated_at": utcnow()}, "id")
        row = db.session.get(EnergySettings, SETTINGS_ID)
    return row


@dataclass(frozen=True)
class CachedConfig:
    """Energy configuration in the config snapshot (the event path reads no settings or action rows):
    read-only copies of the settings row and of the active actions, by key."""

    settings: SimpleNamespace
    cfg: engine.Config
    actions: dict


def _copy(row) -> SimpleNamespace:
    return SimpleNamespace(**{a.key: getattr(row, a.key) for a in sa_inspect(row).mapper.column_attrs})


def _load_cached_config() -> CachedConfig:
    s = get_settings()
    return CachedConfig(_copy(s), config(s), {a.key: _copy(a) for a in list_actions()})


snapshot.EXTRA_CONFIG_MODELS.extend([EnergySettings, EnergyAction])
snapshot.EXTRA_LOADERS["energy"] = _load_cached_config


def config(s: EnergySettings) -> engine.Config:
    q = engine.q
    return engine.Config(
        free_max=s.free_max,
        free_regen_per_hour=q(s.free_regen_per_hour),
        premium_max=s.premium_max,
        premium_regen_per_hour=q(s.premium_regen_per_hour),
        tick_minutes=s.tick_minutes,
        max_skill_bonus=s.max_skill_bonus,
        fatigue_gain_per_energy=q(s.fatigue_gain_per_energy),
        endurance_fatigue_reduction=q(s.endurance_fatigue_reduction),
        fatigue_recovery_per_hour=q(s.fatigue_recovery_per_hour),
        meditation_recovery_bonus=q(s.meditation_recovery_bonus),
        fatigue_regen_penalty=q(s.fatigue_regen_penalty),
        max_skill_cost_reduction=q(s.max_skill_cost_reduction),
    )


# ------------------------------------------------------------------------------------------ state


def _now(now: Optional[datetime]) -> datetime:
    return now or utcnow()


def _row_values(user_id: int, s: EnergySettings, now: datetime) -> dict:
    return {
        "user_id": user_id,
        "current": s.free_max,
        "remainder_milli": 0,
        "last_regen_at": now,
        "fatigue_milli": 0,
        "fatigue_updated_at": now,
        "premium": False,
        "skills": {},
        "incapacitated_reason": "",
        "full_notified": True,
        "created_at": now,
        "updated_at": now,
    }


def _boosts(user_id: int, since: datetime) -> list[PlayerBoost]:
    """Boosts that matter from `since` on (expired before it: no longer relevant)."""
    return list(
        db.session.execute(
            db.select(PlayerBoost)
            .where(
                PlayerBoost.user_id == user_id,
                PlayerBoost.type != "instant_refill",
                (PlayerBoost.expires_at.is_(None)) | (PlayerBoost.expires_at > since),
            )
            .order_by(PlayerBoost.id)
        ).scalars()
    )


def _env(row: PlayerEnergy, s: EnergySettings, cfg: engine.Config, boosts: list[PlayerBoost]) -> engine.Env:
    skills = row.skills or {}
    tick = row.tick_minutes or s.tick_minutes
    regen = engine.q(row.regen_per_hour) if row.regen_per_hour is not None else engine.tier_regen(row.premium, cfg)
    return engine.Env(
        base_max=engine.tier_max(row.premium, cfg) + engine.skill_max_bonus(skills, cfg),
        regen_per_hour=regen,
        tick_minutes=tick,
        fatigue_recovery_per_tick=engine.fatigue_recovery_per_tick_milli(skills.get("meditation", 0), tick, cfg),
        fatigue_penalty=cfg.fatigue_regen_penalty,
        boosts=engine.spans((b.type, b.effect_value, b.applied_at, b.expires_at) for b in boosts),
    )


def _state(row: PlayerEnergy) -> engine.State:
    return engine.State(
        current=row.current,
        remainder_milli=row.remainder_milli or 0,
        fatigue_milli=row.fatigue_milli or 0,
        last_regen_at=row.last_regen_at,
    )


@dataclass
class _Locked:
    user: User
    row: PlayerEnergy
    s: EnergySettings
    cfg: engine.Config
    env: engine.Env
    now: datetime

    @property
    def max(self) -> int:
        return self.env.max_at(self.now)


def _lock_users(user_ids) -> None:
    """Row locks on users in id order (the event engine locks the user first too: no deadlocks).
    FOR NO KEY UPDATE, as the event engine: excludes other writers of the player, not the key-share
    locks of inserts that reference them."""
    for uid in sorted(set(user_ids)):
        db.session.execute(db.select(User.id).where(User.id == uid).with_for_update(key_share=True))


def _lock(user: User, now: datetime, cached: Optional[CachedConfig] = None) -> _Locked:
    """Lock the player's energy row and apply lazy regeneration up to `now` (one regeneration row in the
    ledger when whole energy was added). With `cached` (the event path) the caller already holds the
    player's row lock and the settings come from the config snapshot."""
    if cached is None:
        _lock_users([user.id])
    s = cached.settings if cached is not None else get_settings()
    if db.session.get(PlayerEnergy, user.id) is None:
        _insert_ignore(PlayerEnergy, _row_values(user.id, s, now), "user_id")
    row = db.session.execute(
        db.select(PlayerEnergy)
        .where(PlayerEnergy.user_id == user.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    cfg = cached.cfg if cached is not None else config(s)
    since = min(row.last_regen_at, now)
    env = _env(row, s, cfg, _boosts(user.id, since))
    before = row.current
    new = engine.advance(_state(row), env, now)
    if new != _state(row):
        ticks = engine.tick_index(new.last_regen_at, env.tick_us) - engine.tick_index(row.last_regen_at, env.tick_us)
        if new.fatigue_milli != row.fatigue_milli:
            row.fatigue_updated_at = new.last_regen_at
        row.current, row.remainder_milli = new.current, new.remainder_milli
        row.fatigue_milli, row.last_regen_at = new.fatigue_milli, new.last_regen_at
        row.updated_at = now
        if new.current > before:
            _ledger(user.id, "regeneration", new.current - before, before, new.current, meta={"ticks": ticks})
    return _Locked(user=user, row=row, s=s, cfg=cfg, env=env, now=now)


def _ledger(
    user_id: int,
    type_: str,
    amount: int,
    before: int,
    after: int,
    related_type: Optional[str] = None,
    related_id: Optional[int] = None,
    meta: Optional[dict] = None,
    now: Optional[datetime] = None,
):
    tx = EnergyTransaction(
        user_id=user_id,
        type=type_,
        amount=amount,
        balance_before=before,
        balance_after=after,
        related_type=related_type,
        related_id=related_id,
        meta=meta or {},
        created_at=_now(now),
    )
    db.session.add(tx)
    return tx


def _refresh_env(L: _Locked) -> None:
    L.env = _env(L.row, L.s, L.cfg, _boosts(L.user.id, min(L.row.last_regen_at, L.now)))


def _after_write(L: _Locked, added_by_player: bool) -> None:
    """Keep the "energy full" flag right: reset below max; at max, notify once if regeneration filled it
    (fills the player caused themselves - refills, gifts, boosts - are not announced)."""
    row = L.row
    if row.current < L.max:
        row.full_notified = False
    elif not row.full_notified:
        row.full_notified = True
        if not added_by_player:
            _announce_full(L.user.id, row.current, L.max)


def _announce_full(user_id: int, current: int, max_energy: int) -> None:
    outbox.notify(
        user_id, "energy_full", "Your energy is full", f"{current}/{max_energy}: time to use it!", link="/actions"
    )
    outbox.emit("energy.full", user_id, {"current": current, "max": max_energy})


def _credit(
    L: _Locked, amount: int, type_: str, cap: bool = True, related_type=None, related_id=None, meta=None
) -> int:
    """Add energy under the lock; capped at max unless cap=False. Returns what was added."""
    row = L.row
    before = row.current
    add = max(0, min(amount, L.max - before)) if cap else amount
    if add == 0 and type_ not in ("boost_applied",):
        return 0
    row.current = before + add
    if row.current >= L.max:
        row.remainder_milli = 0
    row.updated_at = L.now
    _ledger(L.user.id, type_, add, before, row.current, related_type, related_id, meta, L.now)
    return add


def _resting_error(L: _Locked, required: int) -> None:
    until = L.row.incapacitated_until
    if until is not None and L.now < until:
        reason = f" ({L.row.incapacitated_reason})" if L.row.incapacitated_reason else ""
        raise EnergyError(
            "energy",
            f"You are resting{reason} until {until.strftime('%H:%M')} UTC: energy keeps regenerating, "
            f"but you can't spend it before then.",
            409,
            incapacitated_until=until.isoformat(),
            required=required,
            available=L.row.current,
            seconds_until_enough=max(0, math.ceil((until - L.now).total_seconds())),
        )


def _insufficient(L: _Locked, amount: int) -> EnergyError:
    available = L.row.current
    when = engine.time_until(_state(L.row), L.env, L.now, amount)
    seconds = None if when is None else max(0, math.ceil((when - L.now).total_seconds()))
    if seconds is None:
        hint = (
            f" That is more than your maximum energy ({L.max})."
            if amount > L.max
            else " Your energy is not regenerating right now."
        )
    else:
        hint = f" You'll have enough in {engine.human_duration(seconds)}."
    return EnergyError(
        "energy",
        f"Not enough energy: this needs {amount} and you have {available}.{hint}",
        409,
        required=amount,
        available=available,
        seconds_until_enough=seconds,
        enough_at=when.isoformat() if when else None,
    )


def _spend_locked(
    L: _Locked,
    amount: int,
    type_: str = "consumption",
    related_type: Optional[str] = None,
    related_id: Optional[int] = None,
    meta: Optional[dict] = None,
    fatigue: bool = True,
) -> dict:
    row = L.row
    _resting_error(L, amount)
    before = row.current
    if amount < 0:
        raise EnergyError("amount", "amount must not be negative")
    if amount > 0:
        db.session.flush()
        # The balance check and the debit are one statement: never negative, never spent twice.
        res = db.session.execute(
            update(PlayerEnergy)
            .where(PlayerEnergy.user_id == row.user_id, PlayerEnergy.current >= amount)
            .values(current=PlayerEnergy.current - amount, updated_at=L.now)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:
            raise _insufficient(L, amount)
        set_committed_value(row, "current", before - amount)
        if fatigue:
            gain = engine.fatigue_gain_milli(amount, (row.skills or {}).get("endurance", 0), L.cfg)
            if gain:
                row.fatigue_milli = min(engine.FATIGUE_MAX, (row.fatigue_milli or 0) + gain)
                row.fatigue_updated_at = L.now
    _ledger(L.user.id, type_, -amount, before, row.current, related_type, related_id, meta, L.now)
    threshold = L.s.low_threshold
    if amount > 0 and before >= threshold > row.current:
        outbox.notify(
            L.user.id,
            "energy_low",
            "Your energy is low",
            f"{row.current}/{L.max} left. It comes back over time - or refill with tokens.",
            link="/energy",
        )
        outbox.emit("energy.low", L.user.id, {"current": row.current, "max": L.max, "threshold": threshold})
    _after_write(L, added_by_player=False)
    if amount > 0:
        _review_spending(L)
    return {
        "spent": amount,
        "before": before,
        "current": row.current,
        "max": L.max,
        "fatigue": round(row.fatigue_milli / engine.MILLI, 1),
        "low": row.current < threshold,
    }


def spend(
    user: User,
    amount: int,
    *,
    type_: str = "consumption",
    now: Optional[datetime] = None,
    related_type: Optional[str] = None,
    related_id: Optional[int] = None,
    meta: Optional[dict] = None,
    fatigue: Optional[bool] = None,
) -> dict:
    """Spend `amount` energy atomically (raises EnergyError 409 with required/available/seconds_until_enough
    when there is not enough, or while resting). Fatigue grows on consumption by default."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise EnergyError("amount", "amount must be a whole number")
    L = _lock(user, _now(now))
    return _spend_locked(
        L,
        amount,
        type_,
        related_type,
        related_id,
        meta,
        fatigue=(type_ == "consumption") if fatigue is None else fatigue,
    )


# ------------------------------------------------------------------------------------------ reading


def status(user: User, now: Optional[datetime] = None) -> dict:
    """Everything shown about a player's energy. Reads do not rewrite the stored state; the only write is
    the once-per-fill "energy full" notification (committed by the caller)."""
    now = _now(now)
    s = get_settings()
    cfg = config(s)
    row = db.session.get(PlayerEnergy, user.id)
    if row is None:
        row = PlayerEnergy(**_row_values(user.id, s, now))
        transient = True
    else:
        transient = False
    boosts = _boosts(user.id, min(row.last_regen_at, now)) if not transient else []
    env = _env(row, s, cfg, boosts)
    st = engine.advance(_state(row), env, now)
    max_now = env.max_at(now)
    full = st.current >= max_now
    if full and not transient and not row.full_notified:
        res = db.session.execute(
            update(PlayerEnergy)
            .where(PlayerEnergy.user_id == user.id, PlayerEnergy.full_notified.is_(False))
            .values(full_notified=True)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount == 1:
            set_committed_value(row, "full_notified", True)
            _announce_full(user.id, st.current, max_now)
    next_tick = engine.next_tick_at(now, env.tick_minutes)
    gain_at = None if full else engine.next_gain_at(st, env, now)
    full_at = now if full else engine.time_until_full(st, env, now)

    def secs(t):
        return None if t is None else max(0, math.ceil((t - now).total_seconds()))

    rate = env.effective_regen_per_hour(now, st.fatigue_milli)
    resting = row.incapacitated_until is not None and now < row.incapacitated_until
    active = [b for b in boosts if b.applied_at <= now and (b.expires_at is None or b.expires_at > now)]
    return {
        "current": st.current,
        "max": max_now,
        "full": full,
        "percent": round(min(100.0, 100.0 * st.current / max_now), 1) if max_now else 0.0,
        "fraction": round(st.remainder_milli / engine.MILLI, 3),
        "tier": "premium" if row.premium else "free",
        "premium": bool(row.premium),
        "regen_per_hour": round(float(rate), 3),
        "base_regen_per_hour": round(float(env.regen_per_hour), 3),
        "regen_per_tick": round(float(rate * env.tick_minutes / 60), 3),
        "tick_minutes": env.tick_minutes,
        "next_tick_at": next_tick.isoformat(),
        "seconds_to_next_tick": secs(next_tick),
        "next_gain_at": gain_at.isoformat() if gain_at else None,
        "seconds_to_next_gain": secs(gain_at),
        "next_gain_text": engine.mmss(secs(gain_at)) if gain_at else "",
        "full_at": full_at.isoformat() if full_at else None,
        "seconds_to_full": secs(full_at),
        "time_to_full": "full" if full else (engine.human_duration(secs(full_at)) if full_at else "not regenerating"),
        "fatigue": round(st.fatigue_milli / engine.MILLI, 1),
        "regen_multiplier": round(float(engine.fatigue_multiplier(st.fatigue_milli, env.fatigue_penalty)), 3),
        "low": st.current < s.low_threshold,
        "low_threshold": s.low_threshold,
        "resting": resting,
        "incapacitated_until": row.incapacitated_until.isoformat() if resting else None,
        "incapacitated_reason": row.incapacitated_reason if resting else "",
        "skills": dict(row.skills or {}),
        "boosts": [boost_json(b) for b in active],
        "consumption_reduction_pct": float(env.consumption_pct_at(now)),
    }


def boost_json(b: PlayerBoost) -> dict:
    return {
        "id": b.id,
        "name": b.name,
        "type": b.type,
        "effect_value": b.effect_value,
        "applied_at": b.applied_at.isoformat(),
        "expires_at": b.expires_at.isoformat() if b.expires_at else None,
    }


def history(user: User, page: int = 1, per_page: int = HISTORY_PER_PAGE):
    """The ledger, newest first (a Flask-SQLAlchemy Pagination)."""
    q = (
        db.select(EnergyTransaction)
        .where(EnergyTransaction.user_id == user.id)
        .order_by(EnergyTransaction.created_at.desc(), EnergyTransaction.id.desc())
    )
    return db.paginate(q, page=max(1, page), per_page=per_page, error_out=False)


def transaction_json(t: EnergyTransaction) -> dict:
    return {
        "id": t.id,
        "type": t.type,
        "amount": t.amount,
        "before": t.balance_before,
        "after": t.balance_after,
        "related_type": t.related_type,
        "related_id": t.related_id,
        "metadata": t.meta or {},
        "created_at": t.created_at.isoformat(),
    }


# ------------------------------------------------------------------------------------------ actions


def list_actions(active_only: bool = True) -> list[EnergyAction]:
    q = db.select(EnergyAction).order_by(EnergyAction.position, EnergyAction.name)
    if active_only:
        q = q.where(EnergyAction.active.is_(True))
    return list(db.session.execute(q).scalars())


def get_action(key: str) -> EnergyAction:
    action = db.session.execute(db.select(EnergyAction).where(EnergyAction.key == key)).scalar_one_or_none()
    if action is None or not action.active:
        raise EnergyError("action", f"unknown action '{key}'", 404)
    return action


def resolve_difficulty(action: EnergyAction, difficulty: Optional[str]) -> tuple[Optional[str], object]:
    levels = action.difficulties or {}
    if not levels:
        if difficulty not in (None, ""):
            raise EnergyError("difficulty", f"action '{action.key}' has no difficulty levels")
        return None, 1
    if difficulty in (None, ""):
        difficulty = "medium" if "medium" in levels else next(iter(levels))
    if not isinstance(difficulty, str) or difficulty not in levels:
        raise EnergyError("difficulty", f"difficulty must be one of: {', '.join(levels)}")
    return difficulty, levels[difficulty]


def action_cost(
    action: EnergyAction, difficulty: Optional[str], skills: dict, cfg: engine.Config, boost_reduction_pct=0
) -> int:
    _d, mult = resolve_difficulty(action, difficulty)
    return engine.action_cost(action.base_cost, mult, skills, action.skill_reductions or {}, cfg, boost_reduction_pct)


def action_costs(user: User, actions: list[EnergyAction], now: Optional[datetime] = None) -> dict:
    """{action key: {difficulty or "": cost}} for this player right now (skills and boosts included)."""
    now = _now(now)
    s = get_settings()
    cfg = config(s)
    row = db.session.get(PlayerEnergy, user.id)
    skills = (row.skills or {}) if row else {}
    pct = 0
    if row is not None:
        pct = _env(row, s, cfg, _boosts(user.id, now)).consumption_pct_at(now)
    out = {}
    for a in actions:
        levels = a.difficulties or {}
        out[a.key] = (
            {d: action_cost(a, d, skills, cfg, pct) for d in levels}
            if levels
            else {"": action_cost(a, None, skills, cfg, pct)}
        )
    return out


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
    from .events import process_event

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


# ------------------------------------------------------------------------------------------ tokens


def token_system():
    s = get_settings()
    system = points_svc.system_by_key(s.token_system_key)
    if system is None:
        raise EnergyError("tokens", f"Tokens are not set up: there is no points system '{s.token_system_key}'.", 409)
    return system


def token_balance(user: User) -> Optional[int]:
    s = get_settings()
    system = points_svc.system_by_key(s.token_system_key)
    if system is None:
        return None
    from ..models import PointsBalance

    row = db.session.get(PointsBalance, (user.id, system.id))
    return row.balance if row else 0


def _debit_tokens(user: User, tokens: int, trigger_type: str, reason: str, now: datetime) -> None:
    if tokens <= 0:
        return
    system = token_system()
    try:
        points_svc.award(user, system, -tokens, trigger_type, reason=reason, now=now)
    except points_svc.PointsError as e:
        raise EnergyError(
            "tokens",
            f"Not enough {system.name}: {tokens} needed, {token_balance(user)} available.",
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


# ------------------------------------------------------------------------------------------ boosts


def list_boosts(active_only: bool = True) -> list[EnergyBoost]:
    q = db.select(EnergyBoost).order_by(EnergyBoost.token_cost, EnergyBoost.name)
    if active_only:
        q = q.where(EnergyBoost.active.is_(True))
    return list(db.session.execute(q).scalars())


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
            raise EnergyError("boost", "Your energy is already full.", 409)
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
            until = "for good" if same.expires_at is None else f"until {same.expires_at.strftime('%H:%M')} UTC"
            raise EnergyError("boost", f"{boost.name} is already active {until}.", 409)
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


# ------------------------------------------------------------------------------------------ player settings


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


# ------------------------------------------------------------------------------------------ gifts


def _local_day(user: User, now: datetime):
    return cal.local_date(now, user.timezone or "UTC")


def gift_limits(user: User, now: Optional[datetime] = None) -> dict:
    now = _now(now)
    s = get_settings()
    sent = db.session.execute(
        db.select(func.count(EnergyGift.id)).where(
            EnergyGift.sender_id == user.id, EnergyGift.sender_local_date == _local_day(user, now)
        )
    ).scalar_one()
    received = db.session.execute(
        db.select(func.count(EnergyGift.id)).where(
            EnergyGift.recipient_id == user.id, EnergyGift.recipient_local_date == _local_day(user, now)
        )
    ).scalar_one()
    return {
        "sent_today": sent,
        "sent_limit": s.gifts_sent_per_day,
        "sent_left": max(0, s.gifts_sent_per_day - sent),
        "received_today": received,
        "received_limit": s.gifts_received_per_day,
        "received_left": max(0, s.gifts_received_per_day - received),
        "min": s.gift_min,
        "max": s.gift_max,
        "default": s.gift_default,
        "expiry_hours": s.gift_expiry_hours,
    }


def send_gift(
    sender: User,
    recipient: Optional[User],
    amount: Optional[int] = None,
    message: str = "",
    now: Optional[datetime] = None,
) -> EnergyGift:
    """Send energy to a friend: the sender spends it now; the friend accepts it within the expiry."""
    from . import friends

    now = _now(now)
    s = get_settings()
    if recipient is None:
        raise EnergyError("recipient", "No player found to send energy to.", 404)
    if recipient.id == sender.id:
        raise EnergyError("recipient", "You can't send energy to yourself.")
    amount = s.gift_default if amount in (None, "") else amount
    if isinstance(amount, bool) or not isinstance(amount, int) or not s.gift_min <= amount <= s.gift_max:
        raise EnergyError("amount", f"A gift is {s.gift_min} to {s.gift_max} energy.")
    message = (message or "").strip()
    if len(message) > 200:
        raise EnergyError("message", "The message can be at most 200 characters.")
    if not friends.are_friends(sender.id, recipient.id):
        raise EnergyError(
            "recipient", f"You can only send energy to friends: add {recipient.name} as a friend first.", 403
        )
    _lock_users([sender.id, recipient.id])
    L = _lock(sender, now)
    sent_day, recv_day = _local_day(sender, now), _local_day(recipient, now)
    sent = db.session.execute(
        db.select(func.count(EnergyGift.id)).where(
            EnergyGift.sender_id == sender.id, EnergyGift.sender_local_date == sent_day
        )
    ).scalar_one()
    if sent >= s.gifts_sent_per_day:
        raise EnergyError(
            "recipient",
            f"You've already sent {sent} gifts today (the limit is {s.gifts_sent_per_day}). Try again tomorrow.",
            429,
            limit=s.gifts_sent_per_day,
        )
    received = db.session.execute(
        db.select(func.count(EnergyGift.id)).where(
            EnergyGift.recipient_id == recipient.id, EnergyGift.recipient_local_date == recv_day
        )
    ).scalar_one()
    if received >= s.gifts_received_per_day:
        raise EnergyError(
            "recipient",
            f"{recipient.name} has already received {received} gifts today (the limit "
            f"is {s.gifts_received_per_day}). Try again tomorrow.",
            429,
            limit=s.gifts_received_per_day,
        )
    gift = EnergyGift(
        sender_id=sender.id,
        recipient_id=recipient.id,
        amount=amount,
        message=message,
        status="pending",
        created_at=now,
        expires_at=now + timedelta(hours=s.gift_expiry_hours),
        sender_local_date=sent_day,
        recipient_local_date=recv_day,
    )
    db.session.add(gift)
    db.session.flush()
    _spend_locked(L, amount, "gift_sent", "gift", gift.id, {"to": recipient.id}, fatigue=False)
    outbox.notify(
        recipient.id,
        "gift",
        f"{sender.name} sent you {amount} energy",
        message or "Accept it on your energy page before it expires.",
        link="/energy#gifts",
    )
    outbox.emit("energy.gift_sent", sender.id, {"gift_id": gift.id, "to_user_id": recipient.id, "amount": amount})
    return gift


def pending_gifts(user: User, now: Optional[datetime] = None) -> list[EnergyGift]:
    now = _now(now)
    return list(
        db.session.execute(
            db.select(EnergyGift)
            .where(EnergyGift.recipient_id == user.id, EnergyGift.status == "pending", EnergyGift.expires_at > now)
            .order_by(EnergyGift.created_at)
        ).scalars()
    )


def sent_gifts(user: User, limit: int = 10) -> list[EnergyGift]:
    return list(
        db.session.execute(
            db.select(EnergyGift)
            .where(EnergyGift.sender_id == user.id)
            .order_by(EnergyGift.created_at.desc())
            .limit(limit)
        ).scalars()
    )


def accept_gift(user: User, gift_id: int, now: Optional[datetime] = None) -> dict:
    """Credit a pending gift (capped at max; refused when already full, so the gift is not wasted)."""
    now = _now(now)
    gift = db.session.get(EnergyGift, gift_id)
    if gift is None or gift.recipient_id != user.id:
        raise EnergyError("gift", "Gift not found.", 404)
    L = _lock(user, now)
    db.session.refresh(gift)
    if gift.status != "pending":
        raise EnergyError("gift", f"This gift was already {gift.status}.", 409)
    if gift.expires_at <= now:
        raise EnergyError("gift", "This gift has expired.", 409)
    if L.row.current >= L.max:
        raise EnergyError(
            "gift",
            f"Your energy is full: use some first, then accept the gift (before it expires "
            f"at {gift.expires_at.strftime('%H:%M')} UTC).",
            409,
        )
    res = db.session.execute(
        update(EnergyGift)
        .where(EnergyGift.id == gift.id, EnergyGift.status == "pending")
        .values(status="accepted", resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        raise EnergyError("gift", "This gift is no longer pending.", 409)
    credited = _credit(
        L,
        gift.amount,
        "gift_received",
        related_type="gift",
        related_id=gift.id,
        meta={"from": gift.sender_id, "amount": gift.amount},
    )
    set_committed_value(gift, "status", "accepted")
    set_committed_value(gift, "resolved_at", now)
    gift.credited = credited
    _after_write(L, added_by_player=True)
    return {"gift_id": gift.id, "amount": gift.amount, "credited": credited, "current": L.row.current, "max": L.max}


def expire_gifts(now: Optional[datetime] = None) -> int:
    """Mark pending gifts past their expiry as expired (refunding senders when the settings say so).
    Idempotent and safe to run concurrently: each gift flips pending -> expired exactly once."""
    now = _now(now)
    s = get_settings()
    due = db.session.execute(
        db.select(EnergyGift.id, EnergyGift.sender_id)
        .where(EnergyGift.status == "pending", EnergyGift.expires_at <= now)
        .order_by(EnergyGift.id)
    ).all()
    ids = [gid for gid, _sender in due]
    if s.refund_expired_gifts and due:
        # Users before gifts and energy rows, in id order: the order every other writer uses.
        _lock_users(sender for _gid, sender in due)
    count = 0
    for gid in ids:
        res = db.session.execute(
            update(EnergyGift)
            .where(EnergyGift.id == gid, EnergyGift.status == "pending")
            .values(status="expired", resolved_at=now)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:
            continue
        count += 1
        gift = db.session.get(EnergyGift, gid)
        db.session.refresh(gift)
        if s.refund_expired_gifts:
            sender = db.session.get(User, gift.sender_id)
            L = _lock(sender, now)
            # Not capped: the energy was the sender's, so nothing is lost even if they are full now.
            _credit(
                L,
                gift.amount,
                "gift_refund",
                cap=False,
                related_type="gift",
                related_id=gift.id,
                meta={"reason": "gift expired", "amount": gift.amount},
            )
            gift.refunded = True
            _after_write(L, added_by_player=True)
    return count


def expire_gifts_job(now: Optional[datetime] = None) -> int:
    """RQ entry point: runs expire_gifts in its own transaction and commits (creates the app when the
    worker has no app context)."""
    from flask import has_app_context

    def run() -> int:
        try:
            n = expire_gifts(now)
            db.session.commit()
            return n
        except Exception:
            db.session.rollback()
            raise

    if has_app_context():
        return run()
    from .. import create_app

    with create_app().app_context():
        return run()


# ------------------------------------------------------------------------------------------ anti-cheat


def _review_spending(L: _Locked) -> Optional[EnergyReview]:
    """Flag a player whose spending in the last hour exceeds max + an hour of regeneration + top-ups."""
    since = L.now - timedelta(hours=1)
    uid = L.user.id
    db.session.flush()
    spent = -int(
        db.session.execute(
            db.select(func.coalesce(func.sum(EnergyTransaction.amount), 0)).where(
                EnergyTransaction.user_id == uid,
                EnergyTransaction.type.in_(SPEND_TYPES),
                EnergyTransaction.amount < 0,
                EnergyTransaction.created_at > since,
            )
        ).scalar_one()
    )
    if spent <= L.max:
        return None  # cheap exit: never suspicious
    inflow = int(
        db.session.execute(
            db.select(func.coalesce(func.sum(EnergyTransaction.amount), 0)).where(
                EnergyTransaction.user_id == uid,
                EnergyTransaction.type.in_(INFLOW_TYPES),
                EnergyTransaction.amount > 0,
                EnergyTransaction.created_at > since,
            )
        ).scalar_one()
    )
    regen = math.ceil(L.env.regen_per_hour * (1 + L.env.regen_pct_at(L.now) / 100))
    allowed = L.max + regen + inflow
    if spent <= allowed:
        return None
    open_review = db.session.execute(
        db.select(EnergyReview.id).where(EnergyReview.user_id == uid, EnergyReview.resolved_at.is_(None))
    ).first()
    if open_review:
        return None
    review = EnergyReview(
        user_id=uid,
        spent=spent,
        allowed=allowed,
        created_at=L.now,
        reason=f"spent {spent} energy in the last hour; max {L.max} + regeneration {regen} "
        f"+ top-ups {inflow} allow {allowed}",
    )
    db.session.add(review)
    outbox.emit("energy.flagged", uid, {"spent": spent, "allowed": allowed})
    return review


def open_reviews() -> list[EnergyReview]:
    return list(
        db.session.execute(
            db.select(EnergyReview).where(EnergyReview.resolved_at.is_(None)).order_by(EnergyReview.created_at.desc())
        ).scalars()
    )


def resolve_review(review_id: int, note: str = "", now: Optional[datetime] = None) -> EnergyReview:
    review = db.session.get(EnergyReview, review_id)
    if review is None:
        raise EnergyError("review", "review not found", 404)
    if review.resolved_at is None:
        review.resolved_at = _now(now)
        review.resolved_note = (note or "")[:255]
    return review
