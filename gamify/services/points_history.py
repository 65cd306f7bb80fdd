"""Points outside the event path, as the API reads and changes them: a player's award history (keyset
pages, newest first), their daily summary over a range of their local days, how many players hold each
level, and manual awards or deductions by the host app (ledgered, idempotent by key). Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional

from sqlalchemy import case, func

from .. import params
from ..extensions import db
from ..models import ROLE_PLAYER, PointsAward, PointsBalance, PointsSystem, User
from . import points
from .day_ranges import MAX_DAYS


class PointsConflict(ValueError):
    """A manual award refused in the current state (409): `field` names why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# ------------------------------------------------------------------------------------------ history


def award_json(a: PointsAward) -> dict:
    return {
        "id": a.id,
        "amount": a.amount,
        "base_amount": a.base_amount,
        "multiplier": a.boost_multiplier,
        "trigger": a.trigger_type,
        "trigger_id": a.trigger_id,
        "source_event_id": a.source_event_id,
        "reason": a.reason or "",
        "local_date": a.local_date.isoformat(),
        "awarded_at": a.awarded_at.isoformat(),
        "idempotency_key": a.idempotency_key,
    }


def awards_before(
    user_id: int, system_id: int, limit: int, before: Optional[tuple[datetime, int]] = None
) -> tuple[list[PointsAward], bool]:
    """Up to `limit` awards, newest first (ties by id), older than `before` (the last one a previous page
    ended with: its awarded_at and id); and whether more follow."""
    q = db.select(PointsAward).where(PointsAward.user_id == user_id, PointsAward.system_id == system_id)
    if before is not None:
        at, award_id = before
        q = q.where(
            db.or_(PointsAward.awarded_at < at, db.and_(PointsAward.awarded_at == at, PointsAward.id < award_id))
        )
    rows = list(
        db.session.execute(q.order_by(PointsAward.awarded_at.desc(), PointsAward.id.desc()).limit(limit + 1)).scalars()
    )
    return rows[:limit], len(rows) > limit


# ------------------------------------------------------------------------------------------ daily summary


def daily(user: User, system: PointsSystem, start: date, end: date) -> list[dict]:
    """One entry per local day from `start` to `end` (at most MAX_DAYS): points earned, points taken
    away, the net change, how many ledger rows, and the balance at the end of the day (today's balance
    less everything recorded on later days)."""
    if end < start or (end - start).days >= MAX_DAYS:
        raise ValueError("the range must run forwards and span at most MAX_DAYS days")
    mine = (PointsAward.user_id == user.id, PointsAward.system_id == system.id)
    rows = db.session.execute(
        db.select(
            PointsAward.local_date,
            func.coalesce(func.sum(case((PointsAward.amount > 0, PointsAward.amount), else_=0)), 0),
            func.coalesce(func.sum(case((PointsAward.amount < 0, -PointsAward.amount), else_=0)), 0),
            func.count(PointsAward.id),
        )
        .where(*mine, PointsAward.local_date >= start, PointsAward.local_date <= end)
        .group_by(PointsAward.local_date)
    ).all()
    by_day = {d: (int(earned), int(deducted), int(n)) for d, earned, deducted, n in rows}
    later = db.session.execute(
        db.select(func.coalesce(func.sum(PointsAward.amount), 0)).where(*mine, PointsAward.local_date > end)
    ).scalar_one()
    balance = points.balance_of(user.id, system.id) - int(later)
    out = []
    day = end
    while day >= start:
        earned, deducted, n = by_day.get(day, (0, 0, 0))
        out.append(
            {
                "date": day.isoformat(),
                "earned": earned,
                "deducted": deducted,
                "net": earned - deducted,
                "awards": n,
                "balance": balance,
            }
        )
        balance -= earned - deducted
        day -= timedelta(days=1)
    out.reverse()
    return out


# ------------------------------------------------------------------------------------------ levels


def level_summary(system: PointsSystem) -> dict:
    """How many players are at each level of the system (from the level every balance row holds),
    and how many are below the first (no balance yet counts as below)."""
    players = int(db.session.execute(db.select(func.count(User.id)).where(User.role == ROLE_PLAYER)).scalar_one())
    counts = dict(
        db.session.execute(
            db.select(PointsBalance.level_id, func.count())
            .join(User, User.id == PointsBalance.user_id)
            .where(PointsBalance.system_id == system.id, User.role == ROLE_PLAYER)
            .group_by(PointsBalance.level_id)
        ).all()
    )
    levels = [
        {
            "key": lv.key,
            "name": lv.name,
            "badge": lv.badge or "",
            "threshold": lv.threshold,
            "players": int(counts.get(lv.id, 0)),
            "share_pct": round(100.0 * counts.get(lv.id, 0) / players, 1) if players else 0.0,
        }
        for lv in system.levels
    ]
    below = players - sum(lv["players"] for lv in levels)
    return {
        "system": system.key,
        "name": system.name,
        "players": players,
        "below_first_level": below,
        "levels": levels,
    }


# ------------------------------------------------------------------------------------------ manual awards


@dataclass
class ManualAward:
    award: PointsAward
    replayed: bool
    level_changed: bool = False


def _lock_player(user_id: int) -> None:
    """The player's row lock (FOR NO KEY UPDATE, as the event path takes it): awards of one player queue,
    so a key is looked up and written by one request at a time. (SQLite serialises writers anyway.)"""
    db.session.execute(db.select(User.id).where(User.id == user_id).with_for_update(key_share=True))


def manual_award(
    user: User,
    system: PointsSystem,
    amount: int,
    reason: str,
    idempotency_key: Optional[str] = None,
    now: Optional[datetime] = None,
) -> ManualAward:
    """Add (or, negative, take away) points as the host app says, through the ledger as an admin
    correction: no boosts or daily cap, and never below zero nor past the largest storable balance
    (PointsConflict "amount"). A key seen before for this player and system answers its award again
    (replayed); with another amount or reason it is refused (PointsConflict "idempotency_key")."""
    _lock_player(user.id)
    if idempotency_key is not None:
        prior = db.session.execute(
            db.select(PointsAward).where(
                PointsAward.user_id == user.id,
                PointsAward.system_id == system.id,
                PointsAward.idempotency_key == idempotency_key,
            )
        ).scalar_one_or_none()
        if prior is not None:
            if (prior.base_amount, prior.reason or "") != (amount, reason):
                raise PointsConflict(
                    "idempotency_key",
                    f"idempotency key '{idempotency_key}' was used for an award of {prior.base_amount} "
                    f"('{prior.reason}'); send a new key for a different award",
                )
            return ManualAward(prior, replayed=True)
    balance = points.balance_of(user.id, system.id)
    if balance + amount < 0:
        raise PointsConflict("amount", f"the balance is {balance}; taking {-amount} would make it negative")
    if balance + amount > params.MAX_INT:
        raise PointsConflict("amount", f"the balance is {balance}; adding {amount} would pass {params.MAX_INT}")
    result = points.award(
        user,
        system,
        amount,
        "admin",
        reason=reason,
        now=now,
        boosts=False,
        limits=False,
        idempotency_key=idempotency_key,
    )
    db.session.flush()  # the award's id, for the answer
    return ManualAward(result["award"], replayed=False, level_changed=result["level_changed"])
