"""Points: trigger evaluation, boosts, caps, the award ledger, balances and level changes."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import func

from .. import notices
from ..engine import calendar as cal
from ..engine import points as engine
from ..engine.filters import matches
from ..extensions import db
from ..models import PointsAward, PointsBalance, PointsSystem, PointsTrigger, User
from ..models._common import utcnow
from . import daily, outbox, snapshot


class PointsError(ValueError):
    pass


def system_by_key(key: str) -> Optional[PointsSystem]:
    return db.session.execute(db.select(PointsSystem).where(PointsSystem.key == key)).scalar_one_or_none()


def all_systems() -> list[PointsSystem]:
    """Every points system, oldest first."""
    return list(db.session.execute(db.select(PointsSystem).order_by(PointsSystem.id)).scalars())


def systems_by_name() -> list[PointsSystem]:
    return list(db.session.execute(db.select(PointsSystem).order_by(PointsSystem.name)).scalars())


def balance_of(user_id: int, system_id: int) -> int:
    """The player's balance in the system (0 while they have no row there)."""
    row = db.session.get(PointsBalance, (user_id, system_id))
    return row.balance if row else 0


def balance_row(user_id: int, system: PointsSystem, known_missing: bool = False) -> PointsBalance:
    """The player's balance row in `system`, created at 0 if missing (`known_missing`: the caller just
    read the player's balances and this one was not there, so skip the look-up)."""
    row = None if known_missing else db.session.get(PointsBalance, (user_id, system.id))
    if row is None:
        row = PointsBalance(user_id=user_id, system_id=system.id, balance=0)
        db.session.add(row)
        db.session.flush()
    return row


def active_boosts(system_id: int, attributes: dict, now: datetime) -> list:
    """Boosts live at `now` (start inclusive, end exclusive) whose filters match."""
    return [
        b
        for b in snapshot.get().boosts
        if b.system_id == system_id and b.starts_at <= now < b.ends_at and matches(b.attribute_filters, attributes)
    ]


def earned_today(user_id: int, system_id: int, day) -> int:
    return int(
        db.session.execute(
            db.select(func.coalesce(func.sum(PointsAward.amount), 0)).where(
                PointsAward.user_id == user_id,
                PointsAward.system_id == system_id,
                PointsAward.local_date == day,
                PointsAward.amount > 0,
                PointsAward.trigger_type.in_(engine.CAPPED_TYPES),
            )
        ).scalar_one()
    )


def award(
    user: User,
    system,
    base: int,
    trigger_type: str,
    *,
    trigger_id: Optional[int] = None,
    source_event_id: Optional[int] = None,
    attributes: Optional[dict] = None,
    reason: str = "",
    now: Optional[datetime] = None,
    boosts: bool = True,
    limits: bool = True,
    balance_missing: bool = False,
    idempotency_key: Optional[str] = None,
) -> dict:
    """Change a balance through the ledger. Returns {added, total, level_changed, level} (and "award":
    the ledger row, when one was written). `system` is a PointsSystem or its cached SystemDef.

    Spends (negative amounts from spend/refill) must never overdraw: they raise PointsError."""
    now = now or utcnow()
    attributes = attributes if attributes is not None else dict(user.attributes or {})
    row = balance_row(user.id, system, known_missing=balance_missing)
    day = cal.local_date(now, user.timezone)
    active = active_boosts(system.id, attributes, now) if boosts and base > 0 else []
    earned = earned_today(user.id, system.id, day) if limits and base > 0 and system.daily_cap is not None else 0
    amount, multiplier = engine.award(
        base, active, row.balance, earned, system.daily_cap, system.max_balance, limits=limits
    )
    if trigger_type in ("spend", "refill") and row.balance + amount < 0:
        raise PointsError(f"not enough {system.name}: {row.balance} available, {-amount} needed")
    result = {"added": amount, "total": row.balance, "level_changed": False, "level": None}
    if amount == 0 and base == 0:
        return result
    result["award"] = ledger = PointsAward(
        user_id=user.id,
        system_id=system.id,
        amount=amount,
        base_amount=base,
        boost_multiplier=multiplier,
        trigger_type=trigger_type,
        trigger_id=trigger_id,
        source_event_id=source_event_id,
        reason=reason,
        local_date=day,
        awarded_at=now,
        idempotency_key=idempotency_key,
    )
    db.session.add(ledger)
    if amount == 0:
        return result  # capped to nothing: the ledger says so, the balance stays
    row.balance += amount
    row.updated_at = now
    result["total"] = row.balance
    outbox.emit(
        "points.changed", user.id, {"system": system.key, "added": amount, "total": row.balance}, source_event_id
    )
    level = engine.level_for(system.levels, row.balance)
    new_level_id = level.id if level else None
    if new_level_id != row.level_id:
        old_id, row.level_id = row.level_id, new_level_id
        result["level_changed"] = True
        payload = engine.level_changed_payload(system.key, system.levels, old_id, level)
        result["level"] = payload["new_level"]
        outbox.emit("points.level_changed", user.id, payload, source_event_id)
        if level and (old_id is None or amount > 0):
            params = {"system": system.name, "level": level.name}
            title = notices.words("level_up", **params)[0]
            outbox.notify(user.id, "level_up", title, link="/points", message="level_up", params=params)
    return result


def _merge(into: dict, system, res: dict) -> None:
    entry = into.setdefault(system.key, {"added": 0, "total": res["total"]})
    entry["added"] += res["added"]
    entry["total"] = res["total"]
    if res["level_changed"]:
        entry["level"] = res["level"]


def evaluate_event(
    user: User,
    metric_id: Optional[int],
    old_total: float,
    new_total: float,
    streak_length: Optional[int],
    achievement_ids: list[int],
    attributes: dict,
    event_id: Optional[int],
    now: datetime,
) -> dict:
    """All triggers an event fires: the metric, a streak length reached, achievements unlocked.
    Every system appears in the result ({"added": 0, "total": balance} when nothing fired)."""
    snap = snapshot.get()
    out: dict = {}
    # The player's balances in one query; award() then finds them in the identity map (which holds its
    # objects weakly: `rows` keeps them alive until the awards are done).
    rows = {
        b.system_id: b
        for b in db.session.execute(db.select(PointsBalance).where(PointsBalance.user_id == user.id)).scalars()
    }
    balances = {system_id: b.balance for system_id, b in rows.items()}
    fired: list = []
    for t in snap.triggers_of("metric"):
        if t.metric_id == metric_id:
            base = engine.metric_trigger_amount(t.points, t.per_units, old_total, new_total)
            if base:
                fired.append((t, base))
    if streak_length:
        fired += engine.streak_triggers(snap.triggers, streak_length)
    for aid in achievement_ids:
        fired += [(t, t.points) for t in snap.triggers_of("achievement") if t.achievement_id == aid]
    for t, base in fired:
        if not matches(t.attribute_filters, attributes):
            continue
        system = snap.systems[t.system_id]
        res = award(
            user,
            system,
            base,
            t.type,
            trigger_id=t.id,
            source_event_id=event_id,
            attributes=attributes,
            reason=f"{t.type} trigger #{t.id}",
            now=now,
            balance_missing=system.id not in balances,
        )
        balances.setdefault(system.id, res["total"])
        _merge(out, system, res)
    for system in snap.systems.values():
        out.setdefault(system.key, {"added": 0, "total": balances.get(system.id, 0)})
    return out


def on_signup(user: User, now: Optional[datetime] = None) -> dict:
    snap = snapshot.get()
    out: dict = {}
    for t in snap.triggers_of("signup"):
        if matches(t.attribute_filters, user.attributes):
            system = snap.systems[t.system_id]
            _merge(out, system, award(user, system, t.points, "signup", trigger_id=t.id, reason="signup", now=now))
    return out


def _last_award_per_player(trigger_id: int, column) -> dict:
    """player id -> the latest `column` (award time or local day) of the trigger's awards to them."""
    return dict(
        db.session.execute(
            db.select(PointsAward.user_id, func.max(column))
            .where(PointsAward.trigger_id == trigger_id)
            .group_by(PointsAward.user_id)
        ).all()
    )


def run_time_interval_triggers(now: Optional[datetime] = None) -> int:
    """Scheduled job: award each interval trigger to players whose last award for it is older than
    the interval. Safe to run as often as you like."""
    now = now or utcnow()
    count = 0
    snap = snapshot.get()
    for t in snap.triggers_of("time_interval"):
        if not t.interval_hours:
            continue
        last = _last_award_per_player(t.id, PointsAward.awarded_at)
        for user in db.session.execute(db.select(User).where(User.role == "player")).scalars():
            prev = last.get(user.id)
            if prev is not None and (now - prev).total_seconds() < t.interval_hours * 3600:
                continue
            if matches(t.attribute_filters, user.attributes):
                award(
                    user,
                    snap.systems[t.system_id],
                    t.points,
                    "time_interval",
                    trigger_id=t.id,
                    reason="scheduled",
                    now=now,
                )
                count += 1
    return count


def run_local_midnight_triggers(now: Optional[datetime] = None) -> int:
    """Scheduled job: points once a day at each player's local midnight ("+10 every day at midnight, your
    time"). Every run awards the players whose local day began since their last award for the trigger,
    so a late run still awards the day, and no day is awarded twice. A trigger only awards days that began
    after it was created."""
    now = now or utcnow()
    count = 0
    snap = snapshot.get()
    triggers = snap.triggers_of("local_midnight")
    if not triggers:
        return 0
    created = dict(
        db.session.execute(
            db.select(PointsTrigger.id, PointsTrigger.created_at).where(PointsTrigger.id.in_([t.id for t in triggers]))
        ).all()
    )
    for t in triggers:
        last = _last_award_per_player(t.id, PointsAward.local_date)
        for user, today in daily.players_due(now, last):
            if cal.local_midnight_utc(today, user.timezone) < created.get(t.id, now):
                continue  # today's midnight came before the trigger existed
            if matches(t.attribute_filters, user.attributes):
                award(
                    user,
                    snap.systems[t.system_id],
                    t.points,
                    "local_midnight",
                    trigger_id=t.id,
                    reason="local midnight",
                    now=now,
                )
                count += 1
    return count


def admin_adjust(user: User, system_id: int, amount: int, reason: str) -> tuple[PointsSystem, dict]:
    """An admin's correction through the ledger: no boosts or caps apply, and a balance never goes below
    zero (PointsError, saying what the balance is). Returns (system, award result)."""
    system = db.session.get(PointsSystem, system_id)
    balance = balance_of(user.id, system.id)
    if balance + amount < 0:
        raise PointsError(f"The balance is {balance}; removing {-amount} would make it negative.")
    return system, award(user, system, amount, "admin", reason=reason, boosts=False, limits=False)


def summary(user: User, system: PointsSystem) -> dict:
    balance = balance_of(user.id, system.id)
    levels = list(system.levels)
    level = engine.level_for(levels, balance)
    nxt = next((lv for lv in levels if lv.threshold > balance), None)
    return {
        "system": system.key,
        "name": system.name,
        "badge": system.badge,
        "total": balance,
        "level": {"key": level.key, "name": level.name, "badge": level.badge, "threshold": level.threshold}
        if level
        else None,
        "next_level": {"key": nxt.key, "name": nxt.name, "threshold": nxt.threshold} if nxt else None,
        "progress_pct": _progress_pct(level, nxt, balance),
    }


def _progress_pct(level, nxt, balance: int) -> float:
    if nxt is None:
        return 100.0
    low = level.threshold if level else 0
    span = max(nxt.threshold - low, 1)
    return round(100.0 * (balance - low) / span, 1)


def recompute_levels(system: PointsSystem) -> int:
    """After the ladder changed: put every balance on the level it now belongs to (silently)."""
    db.session.flush()
    db.session.expire(system, ["levels"])
    levels = list(system.levels)
    changed = 0
    for row in db.session.execute(db.select(PointsBalance).where(PointsBalance.system_id == system.id)).scalars():
        level = engine.level_for(levels, row.balance)
        new_id = level.id if level else None
        if row.level_id != new_id:
            row.level_id = new_id
            changed += 1
    return changed


# ---------------------------------------------------------------------------------------------
# Reads for the player's points page


def awards_page(user_id: int, system_id: int, page: int, per_page: int):
    """One page of the player's awards in a system, newest first."""
    return db.paginate(
        db.select(PointsAward)
        .where(PointsAward.user_id == user_id, PointsAward.system_id == system_id)
        .order_by(PointsAward.awarded_at.desc(), PointsAward.id.desc()),
        page=page,
        per_page=per_page,
        error_out=False,
    )
