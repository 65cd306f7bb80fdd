"""Which achievements an event unlocks (pure: no Flask, no database).

Metric achievements unlock when the player's total of their metric reaches the threshold; with
attribute filters only matching events count, in a progress value of their own. Streak achievements
unlock when an extended streak reaches their length. Composites unlock once every prerequisite is
held, and may chain (a composite can require another), so they are evaluated until nothing new
unlocks. Tiers of one metric unlock lowest threshold first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

from .filters import matches


@dataclass
class Outcome:
    unlocked: list = field(default_factory=list)  # achievement definitions, in unlock order
    progress: dict = field(default_factory=dict)  # achievement id -> new filtered progress value


def evaluate(
    *,
    metric_achievements: Sequence,
    streak_achievements: Sequence,
    composites: Sequence,
    done: set,
    progress: dict,
    value: float,
    new_total: float,
    streak_length: Optional[int],
    attributes: dict,
) -> Outcome:
    """`done`: ids the player holds (not modified); `progress`: filtered progress values before the
    event; `streak_length`: the streak's length if this event extended it, else None. Definitions need
    .id, .trigger, .threshold, .streak_length, .prerequisite_ids and .attribute_filters."""
    out = Outcome()
    candidates = sorted(metric_achievements, key=lambda a: a.threshold or 0)
    if streak_length:
        candidates += sorted(streak_achievements, key=lambda a: a.streak_length or 0)
    held = set(done)
    for a in candidates:
        if a.id in held or not matches(a.attribute_filters, attributes):
            continue
        if a.trigger == "streak":
            reached = streak_length >= (a.streak_length or 0)
        elif a.attribute_filters:
            out.progress[a.id] = (progress.get(a.id) or 0.0) + value
            reached = out.progress[a.id] >= (a.threshold or 0)
        else:
            reached = new_total >= (a.threshold or 0)
        if reached:
            out.unlocked.append(a)
    if out.unlocked:
        held |= {a.id for a in out.unlocked}
        out.unlocked += composites_unlocked(composites, held, attributes)
    return out


def composites_unlocked(composites: Sequence, held: set, attributes: dict) -> list:
    """Composites whose prerequisites are all in `held` (which grows as they unlock), in order."""
    unlocked = []
    changed = True
    while changed:
        changed = False
        for a in composites:
            prereqs = set(a.prerequisite_ids or [])
            if a.id in held or not prereqs or not prereqs <= held or not matches(a.attribute_filters, attributes):
                continue
            held.add(a.id)
            unlocked.append(a)
            changed = True
    return unlocked


def rarity_pct(holders: int, players: int) -> float:
    """Share of players holding it, in percent (0 with no players)."""
    return holders * 100.0 / players if players else 0.0
