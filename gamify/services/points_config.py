"""Points systems, levels, triggers and boosts as the admin defines them: overviews, the checks every
change takes (ConfigError naming the field; the admin pages and the Trophy admin API both call these),
saving and deletion (a level change puts every balance on its new level)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Optional

from sqlalchemy import func

from .. import params
from ..extensions import db
from ..models import (
    Achievement,
    Metric,
    PointsAward,
    PointsBalance,
    PointsBoost,
    PointsLevel,
    PointsSystem,
    PointsTrigger,
)
from ..models.points import ROUNDING, TRIGGER_TYPES
from . import achievements_config, config_rules, points
from .config_rules import ConfigError

MAX_TRIGGER_POINTS = 1_000_000
MAX_INTERVAL_HOURS = 24 * 366


class SystemsOverview(NamedTuple):
    systems: list
    stats: dict  # system id -> (players with a non-zero balance, sum of balances)
    triggers: dict  # system id -> active triggers
    boosts: dict  # system id -> boosts live now


class SystemDetail(NamedTuple):
    triggers: list
    boosts: list
    holders: dict  # level id (None: below the first) -> players
    names: dict  # achievement id -> name, for achievement triggers


# ------------------------------------------------------------------------------------------ systems


def systems_overview(now: datetime) -> SystemsOverview:
    systems = list(db.session.execute(db.select(PointsSystem).order_by(PointsSystem.id)).scalars())
    stats = {
        sid: (n, total)
        for sid, n, total in db.session.execute(
            db.select(
                PointsBalance.system_id,
                func.count(PointsBalance.user_id),
                func.coalesce(func.sum(PointsBalance.balance), 0),
            )
            .where(PointsBalance.balance != 0)
            .group_by(PointsBalance.system_id)
        ).all()
    }
    triggers = dict(
        db.session.execute(
            db.select(PointsTrigger.system_id, func.count(PointsTrigger.id))
            .where(PointsTrigger.active.is_(True))
            .group_by(PointsTrigger.system_id)
        ).all()
    )
    boosts = dict(
        db.session.execute(
            db.select(PointsBoost.system_id, func.count(PointsBoost.id))
            .where(PointsBoost.starts_at <= now, PointsBoost.ends_at > now)
            .group_by(PointsBoost.system_id)
        ).all()
    )
    return SystemsOverview(systems, stats, triggers, boosts)


def system_detail(system: PointsSystem) -> SystemDetail:
    """A system's triggers (active first), boosts (latest first) and players per level."""
    triggers = list(
        db.session.execute(
            db.select(PointsTrigger)
            .where(PointsTrigger.system_id == system.id)
            .order_by(PointsTrigger.active.desc(), PointsTrigger.id)
        ).scalars()
    )
    boosts = list(
        db.session.execute(
            db.select(PointsBoost).where(PointsBoost.system_id == system.id).order_by(PointsBoost.starts_at.desc())
        ).scalars()
    )
    holders = dict(
        db.session.execute(
            db.select(PointsBalance.level_id, func.count(PointsBalance.user_id))
            .where(PointsBalance.system_id == system.id)
            .group_by(PointsBalance.level_id)
        ).all()
    )
    return SystemDetail(triggers, boosts, holders, achievements_config.names())


def system_key_taken(key: str, except_id: Optional[int] = None) -> bool:
    q = db.select(PointsSystem.id).where(PointsSystem.key == key)
    if except_id is not None:
        q = q.where(PointsSystem.id != except_id)
    return db.session.execute(q).first() is not None


def save_system(
    system: Optional[PointsSystem],
    *,
    key: str,
    name: str,
    badge: str,
    daily_cap: Optional[int],
    max_balance: Optional[int],
) -> PointsSystem:
    """Create (`system` None) or update a points system (checked: ConfigError); flushed, so a new one has
    its id."""
    key = config_rules.key(key)
    if system_key_taken(key, except_id=system.id if system is not None else None):
        raise ConfigError("key", "Another points system already uses this key.")
    name = config_rules.name(name)
    badge = config_rules.name(badge, "badge", 64)
    daily_cap = config_rules.whole(daily_cap, "daily_cap", 1, params.MAX_INT, required=False)
    max_balance = config_rules.whole(max_balance, "max_balance", 1, params.MAX_INT, required=False)
    if system is None:
        system = PointsSystem()
        db.session.add(system)
    system.key, system.name, system.badge = key, name, badge
    system.daily_cap, system.max_balance = daily_cap, max_balance
    db.session.flush()
    return system


def system_award_count(system_id: int) -> int:
    """Awards in the system's ledger (a system with any cannot be deleted)."""
    return db.session.execute(
        db.select(func.count(PointsAward.id)).where(PointsAward.system_id == system_id)
    ).scalar_one()


def delete_system(system: PointsSystem) -> None:
    """Delete with its balances, triggers and boosts; ConfigError when its ledger holds awards (the
    history would point at nothing)."""
    awards = system_award_count(system.id)
    if awards:
        raise ConfigError(
            "system",
            f"“{system.name}” has {awards} awards in its ledger and cannot be deleted. "
            "Deactivate its triggers to stop new points.",
        )
    db.session.execute(db.delete(PointsBalance).where(PointsBalance.system_id == system.id))
    for model in (PointsTrigger, PointsBoost):
        for row in db.session.execute(db.select(model).where(model.system_id == system.id)).scalars():
            db.session.delete(row)
    db.session.delete(system)


# ------------------------------------------------------------------------------------------ levels


def save_level(
    system: PointsSystem, level: Optional[PointsLevel], *, key: str, name: str, threshold: int, badge: str
) -> tuple[PointsLevel, int]:
    """Create (`level` None) or update a level (checked: ConfigError), then put every balance on its level.
    Returns the level and how many players moved."""
    key = config_rules.key(key)
    name = config_rules.name(name)
    threshold = config_rules.whole(threshold, "threshold", 0, params.MAX_INT)
    badge = config_rules.optional_text(badge, "badge", 64)
    others = [lv for lv in system.levels if level is None or lv.id != level.id]
    if any(lv.key == key for lv in others):
        raise ConfigError("key", "Another level of this system uses this key.")
    if any(lv.threshold == threshold for lv in others):
        raise ConfigError("threshold", "Another level starts at this balance.")
    if level is None:
        level = PointsLevel(system_id=system.id)
        db.session.add(level)
    level.key, level.name, level.threshold, level.badge = key, name, threshold, badge
    return level, points.recompute_levels(system)


def delete_level(system: PointsSystem, level: PointsLevel) -> int:
    """Delete a level and put every balance on its level; returns how many players moved."""
    db.session.execute(db.update(PointsBalance).where(PointsBalance.level_id == level.id).values(level_id=None))
    system.levels.remove(level)
    db.session.delete(level)
    return points.recompute_levels(system)


# ------------------------------------------------------------------------------------------ triggers


def save_trigger(
    system: PointsSystem,
    trigger: Optional[PointsTrigger],
    *,
    trigger_type: str,
    amount: int,
    active: bool,
    metric_id: Optional[int],
    per_units,
    streak_length: Optional[int],
    times_length: bool,
    achievement_id: Optional[int],
    interval_hours: Optional[int],
    attribute_filters: dict,
) -> PointsTrigger:
    """Create (`trigger` None) or update a trigger (checked: ConfigError); the settings of other types than
    its own are reset."""
    check_trigger(
        trigger_type=trigger_type,
        amount=amount,
        metric_id=metric_id,
        per_units=per_units,
        streak_length=streak_length,
        achievement_id=achievement_id,
        interval_hours=interval_hours,
    )
    if trigger is None:
        trigger = PointsTrigger(system_id=system.id)
        db.session.add(trigger)
    t = trigger_type
    trigger.type, trigger.points, trigger.active = t, amount, active
    trigger.metric_id = metric_id if t == "metric" else None
    trigger.per_units = float(per_units or 1) if t == "metric" else 1.0
    trigger.streak_length = streak_length if t == "streak" else None
    trigger.times_length = times_length if t == "streak_day" else False
    trigger.achievement_id = achievement_id if t == "achievement" else None
    trigger.interval_hours = interval_hours if t == "time_interval" else None
    trigger.attribute_filters = attribute_filters
    return trigger


def check_trigger(
    *,
    trigger_type: str,
    amount,
    metric_id: Optional[int],
    per_units,
    streak_length,
    achievement_id: Optional[int],
    interval_hours,
) -> None:
    """What a trigger of its type needs: a non-zero amount, and its metric, length, achievement or interval."""
    if trigger_type not in TRIGGER_TYPES:
        raise ConfigError("type", f"Choose one of: {', '.join(TRIGGER_TYPES)}.")
    config_rules.whole(amount, "points", -MAX_TRIGGER_POINTS, MAX_TRIGGER_POINTS)
    if amount == 0:
        raise ConfigError("points", "A trigger worth 0 points does nothing.")
    if trigger_type == "metric":
        if metric_id is None or db.session.get(Metric, metric_id) is None:
            raise ConfigError("metric_id", "Choose the metric.")
        if per_units is not None and (isinstance(per_units, bool) or not float(per_units) >= 0.0001):
            raise ConfigError("per_units", "Number must be at least 0.0001.")
    elif trigger_type == "streak":
        if streak_length is None:
            raise ConfigError("streak_length", "Enter the streak length.")
        config_rules.whole(streak_length, "streak_length", 1, params.MAX_INT)
    elif trigger_type == "achievement":
        if achievement_id is None or db.session.get(Achievement, achievement_id) is None:
            raise ConfigError("achievement_id", "Choose the achievement.")
    elif trigger_type == "time_interval":
        if interval_hours is None:
            raise ConfigError("interval_hours", "Enter the interval in hours.")
        config_rules.whole(interval_hours, "interval_hours", 1, MAX_INTERVAL_HOURS)


def toggle_trigger(trigger: PointsTrigger) -> None:
    trigger.active = not trigger.active


def delete_trigger(trigger: PointsTrigger) -> int:
    """Delete a trigger, or pause it when the ledger points at it. Returns how many awards it made
    (0: it was deleted)."""
    used = db.session.execute(
        db.select(func.count(PointsAward.id)).where(PointsAward.trigger_id == trigger.id)
    ).scalar_one()
    if used:
        trigger.active = False
    else:
        db.session.delete(trigger)
    return used


# ------------------------------------------------------------------------------------------ boosts


def save_boost(
    system: PointsSystem,
    boost: Optional[PointsBoost],
    *,
    name: str,
    multiplier: float,
    rounding: str,
    starts_at: datetime,
    ends_at: datetime,
    attribute_filters: dict,
) -> PointsBoost:
    """Create (`boost` None) or update a boost (checked: ConfigError; an unknown rounding rounds down)."""
    name = config_rules.name(name)
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or not 0.01 <= multiplier <= 100:
        raise ConfigError("multiplier", "Number must be between 0.01 and 100.")
    if ends_at <= starts_at:
        raise ConfigError("ends_at", "Must be after the start.")
    if boost is None:
        boost = PointsBoost(system_id=system.id)
        db.session.add(boost)
    boost.name, boost.multiplier = name, multiplier
    boost.rounding = rounding if rounding in ROUNDING else "floor"
    boost.starts_at, boost.ends_at = starts_at, ends_at
    boost.attribute_filters = attribute_filters
    return boost


def delete_boost(boost: PointsBoost) -> None:
    db.session.delete(boost)
