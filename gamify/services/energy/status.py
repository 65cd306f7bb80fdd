"""Reading a player's energy: the status shown on pages and returned by the API, the transaction
history, and what each action costs this player now."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Optional

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from ...engine import energy as engine
from ...extensions import db
from ...models import (
    EnergyAction,
    EnergyTransaction,
    JobCursor,
    PlayerEnergy,
    User,
)
from .catalogue import action_cost, boost_json, config, get_settings
from .ledger import _announce_full, _boosts, _env, _now, _row_values, _state

HISTORY_PER_PAGE = 20


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


FILLS_CURSOR = "energy_full_announcer"


def announce_fills(now: Optional[datetime] = None, limit: int = 5000) -> int:
    """Players whose energy filled up by regeneration since it was last looked at get their once-per-fill
    "energy full" notification now, without opening the app (scheduled; `status` does the announcing).
    Each run looks at up to `limit` players still waiting for their bar to fill, taking up after the last
    one the previous run looked at and starting over at the end, so every such player is looked at in
    turn however many are still below max. Returns how many were announced."""
    now = _now(now)
    cursor = db.session.get(JobCursor, FILLS_CURSOR, with_for_update=True)
    if cursor is None:
        cursor = JobCursor(name=FILLS_CURSOR, position=0)
        db.session.add(cursor)

    def waiting(after: int, n: int) -> list[int]:
        q = select(PlayerEnergy.user_id).where(PlayerEnergy.full_notified.is_(False), PlayerEnergy.user_id > after)
        return list(db.session.execute(q.order_by(PlayerEnergy.user_id).limit(n)).scalars())

    ids = waiting(cursor.position, limit)
    if len(ids) < limit:  # the end: start over from the first (those not already in this run)
        ids += [i for i in waiting(0, limit - len(ids)) if i not in set(ids)]
    if ids:
        cursor.position = ids[-1]
    announced = 0
    for user in db.session.execute(select(User).where(User.id.in_(ids))).scalars() if ids else ():
        row = db.session.get(PlayerEnergy, user.id)
        before = row.full_notified
        status(user, now)
        announced += int(not before and row.full_notified)
    return announced
