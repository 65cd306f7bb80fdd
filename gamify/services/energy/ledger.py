"""A player's energy and every change to it: the row lock, the state computed from it (regeneration,
fatigue, boosts), spending and crediting with a ledger row each, "energy full" notices, and the
anti-cheat review of unusual spending."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func, update
from sqlalchemy.orm.attributes import set_committed_value

from ... import i18n, notices, origin
from ...engine import energy as engine
from ...extensions import db
from ...models import (
    EnergyReview,
    EnergySettings,
    EnergyTransaction,
    PlayerBoost,
    PlayerEnergy,
    User,
)
from ...models._common import utcnow
from .. import outbox
from .catalogue import INFLOW_TYPES, SPEND_TYPES, CachedConfig, EnergyError, _insert_ignore, config, get_settings

_ = i18n.gettext


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
        client_ip=origin.client_ip(),
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
    params = {"current": current, "max": max_energy}
    outbox.notify(
        user_id,
        "energy_full",
        *notices.words("energy_full", **params),
        link="/actions",
        message="energy_full",
        params=params,
    )
    outbox.emit("energy.full", user_id, {"current": current, "max": max_energy})


def _credit(
    L: _Locked, amount: int, type_: str, cap: bool = True, related_type=None, related_id=None, meta=None
) -> int:
    """Add energy under the lock; capped at max unless cap=False. Returns what was added."""
    row = L.row
    before = row.current
    add = max(0, min(amount, L.max - before)) if cap else amount
    if add == 0 and type_ not in ("boost_applied", "daily_grant"):  # (these rows also mark that it happened)
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
        when = i18n.localdt(until, getattr(L.user, "timezone", None))
        if L.row.incapacitated_reason:
            message = _(
                "You are resting (%(reason)s) until %(when)s: energy keeps regenerating, "
                "but you can't spend it before then.",
                reason=L.row.incapacitated_reason,
                when=when,
            )
        else:
            message = _(
                "You are resting until %(when)s: energy keeps regenerating, but you can't spend it before then.",
                when=when,
            )
        raise EnergyError(
            "energy",
            message,
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
            _("That is more than your maximum energy (%(max)s).", max=i18n.num(L.max))
            if amount > L.max
            else _("Your energy is not regenerating right now.")
        )
    else:
        hint = _("You'll have enough in %(duration)s.", duration=i18n.duration(seconds))
    return EnergyError(
        "energy",
        _(
            "Not enough energy: this needs %(amount)s and you have %(available)s.",
            amount=i18n.num(amount),
            available=i18n.num(available),
        )
        + " "
        + hint,
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
        params = {"current": row.current, "max": L.max}
        outbox.notify(
            L.user.id,
            "energy_low",
            *notices.words("energy_low", **params),
            link="/energy",
            message="energy_low",
            params=params,
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


def _review_spending(L: _Locked) -> Optional[EnergyReview]:
    """The anti-cheat review (engine.spending_review) after a spend outside events."""
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
    limit = L.cfg.flag_spend_per_hour
    if spent <= L.max and (limit is None or spent <= limit):
        return None  # cheap exit: neither rule can fire
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
    verdict = engine.spending_review(spent, inflow, L.max, regen, L.cfg)
    if verdict is None:
        return None
    allowed, reason = verdict
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
        reason=reason,
    )
    db.session.add(review)
    outbox.emit("energy.flagged", uid, {"kind": "spending", "spent": spent, "allowed": allowed})
    return review


def open_reviews() -> list[EnergyReview]:
    return list(
        db.session.execute(
            db.select(EnergyReview).where(EnergyReview.resolved_at.is_(None)).order_by(EnergyReview.created_at.desc())
        ).scalars()
    )


def resolved_reviews(limit: int = 20) -> list[EnergyReview]:
    """The latest reviews an admin closed, newest first."""
    return list(
        db.session.execute(
            db.select(EnergyReview)
            .where(EnergyReview.resolved_at.is_not(None))
            .order_by(EnergyReview.resolved_at.desc())
            .limit(limit)
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
