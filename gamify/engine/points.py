"""Points arithmetic: metric trigger amounts, stacked boosts with rounding, caps and levels."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Iterable, Optional, Sequence

_ROUNDING = {"floor": ROUND_FLOOR, "ceil": ROUND_CEILING, "nearest": ROUND_HALF_UP}


def metric_trigger_amount(points: int, per_units: float, old_total: float, new_total: float) -> int:
    """`points` for every whole `per_units` crossed between two totals, so 25 + 25 minutes at
    "10 XP per 30 minutes" gives 10 XP on the second event, never a fraction."""
    per = per_units or 1.0
    crossed = math.floor(new_total / per + 1e-9) - math.floor(old_total / per + 1e-9)
    return points * max(crossed, 0)


def stacked_multiplier(multipliers: Iterable[float]) -> Decimal:
    """Active boosts multiply: 2x and 1.5x give 3x. Decimal keeps 1.1 * 3 from drifting."""
    result = Decimal(1)
    for m in multipliers:
        result *= Decimal(str(m))
    return result


def boosted(base: int, multipliers: Sequence[float], rounding: str = "floor") -> tuple[int, float]:
    """(amount, multiplier). Boosts only scale gains; penalties are never multiplied."""
    if base <= 0 or not multipliers:
        return base, 1.0
    mult = stacked_multiplier(multipliers)
    amount = (Decimal(base) * mult).quantize(Decimal(1), rounding=_ROUNDING[rounding])
    return int(amount), float(mult)


def strictest_rounding(roundings: Iterable[str]) -> str:
    """Several boosts may name different rounding modes; the player-friendliest wins (ceil > nearest > floor)."""
    rs = set(roundings)
    for r in ("ceil", "nearest", "floor"):
        if r in rs:
            return r
    return "floor"


def apply_limits(
    amount: int, balance: int, earned_today: int, daily_cap: Optional[int], max_balance: Optional[int]
) -> int:
    """Trim a gain to what the daily earning cap and the balance ceiling still allow."""
    if amount > 0 and daily_cap is not None:
        amount = max(0, min(amount, daily_cap - earned_today))
    if amount > 0 and max_balance is not None:
        amount = max(0, min(amount, max_balance - balance))
    return amount


def level_for(levels: Sequence, balance: int):
    """The highest level whose threshold the balance reached (levels need .threshold), or None."""
    best = None
    for level in sorted(levels, key=lambda lv: lv.threshold):
        if balance >= level.threshold:
            best = level
    return best


def level_json(level) -> Optional[dict]:
    """A level as players and webhooks see it (never its internal id)."""
    if level is None:
        return None
    return {"key": level.key, "name": level.name, "threshold": level.threshold, "badge": level.badge}


def level_changed_payload(system_key: str, levels: Sequence, previous_id: Optional[int], new_level) -> dict:
    """The `points.level_changed` event: both levels by key, name and threshold, and which way it went."""
    previous = next((lv for lv in levels if lv.id == previous_id), None)
    up = previous is None or (new_level is not None and new_level.threshold > previous.threshold)
    return {
        "system": system_key,
        "previous_level": level_json(previous),
        "new_level": level_json(new_level),
        "level": level_json(new_level),  # the same as new_level, for receivers written before it existed
        "direction": "up" if up else "down",
    }


def award(
    base: int,
    boosts: Sequence,
    balance: int,
    earned_today: int,
    daily_cap: Optional[int],
    max_balance: Optional[int],
    limits: bool = True,
) -> tuple[int, float]:
    """(amount, multiplier) of a trigger worth `base`: boosts live now (each with .multiplier and
    .rounding) scale gains, then the daily cap and the balance ceiling trim them."""
    amount, multiplier = base, 1.0
    if base > 0 and boosts:
        amount, multiplier = boosted(
            base, [b.multiplier for b in boosts], strictest_rounding(b.rounding for b in boosts)
        )
    if limits and amount > 0:
        amount = apply_limits(amount, balance, earned_today if daily_cap is not None else 0, daily_cap, max_balance)
    return amount, multiplier


# Trigger types that count towards the daily earning cap.
CAPPED_TYPES = ("metric", "streak", "streak_day", "achievement", "time_interval", "local_midnight")


def streak_triggers(triggers: Iterable, length: int) -> list[tuple]:
    """(trigger, base points) for a streak extended to `length`: milestones ("streak", at exactly their
    length) and every day of a streak ("streak_day", times the length when the trigger says so)."""
    fired = [(t, t.points) for t in triggers if t.type == "streak" and t.streak_length == length]
    fired += [(t, t.points * (length if t.times_length else 1)) for t in triggers if t.type == "streak_day"]
    return fired
