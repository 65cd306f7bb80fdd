"""Streak evaluation on the player's local calendar.

`settle` closes the periods a player missed (passing paused ones, consuming freezes or breaking the
streak); `record_activity` adds an event's value to the current period and extends the streak when the
requirements are met. Both take and return plain dataclasses, so every rule here is testable without a
database.

Pauses: an admin (or the host app) pauses a player's streak for a span of local days. A period touched
by a pause is paused as a whole: it neither extends nor breaks the streak, and uses no freeze; the
streak keeps its length through it. Activity inside it still counts as progress (if the pause is lifted
the same period, the next event can extend), but extends nothing while the pause stands. A period that
was already extended when the pause was set stays extended (closed history is never rewritten).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Iterable, Optional

from . import calendar as cal

# A pause: its first and last local day, both included.
Pause = tuple[date, date]


@dataclass(frozen=True)
class StreakRules:
    frequency: str = "daily"
    mode: str = "any"  # "all": every requirement must be met in the period; "any": one is enough
    requirements: dict = field(default_factory=dict)  # metric key -> threshold per period
    freeze_initial: int = 0
    freeze_every: Optional[int] = None
    freeze_max: int = 0


@dataclass
class StreakState:
    length: int = 0
    longest: int = 0
    started_on: Optional[date] = None
    last_extended: Optional[date] = None
    last_covered: Optional[date] = None
    progress_period: Optional[date] = None
    progress: dict = field(default_factory=dict)
    periods_since_grant: int = 0
    freezes: int = 0


@dataclass(frozen=True)
class PeriodClosed:
    period_start: date
    period_end: date
    length: int
    outcome: str  # extended | paused | frozen | broken


@dataclass
class StreakChange:
    state: StreakState
    periods: list = field(default_factory=list)  # PeriodClosed, oldest first
    freezes_consumed: list = field(default_factory=list)  # period starts
    freezes_granted: int = 0
    extended: bool = False
    broken: bool = False
    lost_length: int = 0  # length of the streak that broke, for reactivation mails


def paused(frequency: str, period_start: date, pauses: Iterable[Pause]) -> bool:
    """True when a pause covers at least one day of the period starting on `period_start`."""
    end = cal.period_end(frequency, period_start)
    return any(first <= end and last >= period_start for first, last in pauses)


def settle(rules: StreakRules, state: StreakState, today: date, pauses: Iterable[Pause] = ()) -> StreakChange:
    """Close every whole period between the last covered one and the period containing `today`: a paused
    one keeps the streak as it is, a missed one takes a freeze or breaks it."""
    state = replace(state, progress=dict(state.progress))
    change = StreakChange(state=state)
    if state.length <= 0 or state.last_covered is None:
        return change
    pauses = tuple(pauses)
    current = cal.period_start(rules.frequency, today)
    p = cal.next_period_start(rules.frequency, state.last_covered)
    while p < current:
        end = cal.period_end(rules.frequency, p)
        if paused(rules.frequency, p, pauses):
            state.last_covered = p
            change.periods.append(PeriodClosed(p, end, state.length, "paused"))
        elif state.freezes > 0:
            state.freezes -= 1
            state.last_covered = p
            change.freezes_consumed.append(p)
            change.periods.append(PeriodClosed(p, end, state.length, "frozen"))
        else:
            change.lost_length = state.length
            change.periods.append(PeriodClosed(p, end, 0, "broken"))
            change.broken = True
            state.length = 0
            state.started_on = None
            state.periods_since_grant = 0
            break
        p = cal.next_period_start(rules.frequency, p)
    return change


def requirements_met(rules: StreakRules, progress: dict) -> bool:
    if not rules.requirements:
        return False
    met = [progress.get(k, 0) >= t for k, t in rules.requirements.items()]
    return all(met) if rules.mode == "all" else any(met)


def record_activity(
    rules: StreakRules,
    state: StreakState,
    today: date,
    metric_key: str,
    value: float,
    pauses: Iterable[Pause] = (),
) -> StreakChange:
    """Settle, then count `value` of `metric_key` towards the period containing `today` (a paused period
    counts it and extends nothing)."""
    pauses = tuple(pauses)
    change = settle(rules, state, today, pauses)
    state = change.state
    current = cal.period_start(rules.frequency, today)
    # Travelling west can put "today" before a period already extended: count it there, never
    # re-open or break a period that is already closed.
    if state.last_covered is not None and current < state.last_covered:
        current = state.last_covered
    if current == state.last_covered and state.last_extended != current:
        return change  # that period was closed by a freeze or a pause
    if metric_key not in rules.requirements:
        return change
    if state.progress_period != current:
        state.progress_period = current
        state.progress = {}
    state.progress[metric_key] = state.progress.get(metric_key, 0) + value
    if state.last_extended == current or not requirements_met(rules, state.progress):
        return change
    if paused(rules.frequency, current, pauses):
        return change
    continuing = state.length > 0 and state.last_covered == cal.previous_period_start(rules.frequency, current)
    state.length = state.length + 1 if continuing else 1
    if not continuing:
        state.started_on = current
        state.periods_since_grant = 0
    state.longest = max(state.longest, state.length)
    state.last_extended = state.last_covered = current
    change.extended = True
    change.periods.append(PeriodClosed(current, cal.period_end(rules.frequency, current), state.length, "extended"))
    if rules.freeze_every:
        state.periods_since_grant += 1
        if state.periods_since_grant >= rules.freeze_every:
            state.periods_since_grant = 0
            if state.freezes < rules.freeze_max:
                state.freezes += 1
                change.freezes_granted += 1
    return change


def expires_at(
    rules: StreakRules, state: StreakState, today: date, tz: str, pauses: Iterable[Pause] = ()
) -> Optional[datetime]:
    """When the streak is lost if nothing more happens (freezes not counted; paused periods passed), in UTC."""
    if state.length <= 0 or state.last_covered is None:
        return None
    pauses = tuple(pauses)
    current = cal.period_start(rules.frequency, today)
    deadline_period = cal.next_period_start(rules.frequency, state.last_covered)
    if deadline_period < current:  # not settled yet: it already lapsed
        deadline_period = current
    while paused(rules.frequency, deadline_period, pauses):  # pauses are bounded spans: this ends
        deadline_period = cal.next_period_start(rules.frequency, deadline_period)
    return cal.local_midnight_utc(cal.next_period_start(rules.frequency, deadline_period), tz)


def at_risk(rules: StreakRules, state: StreakState, today: date, pauses: Iterable[Pause] = ()) -> bool:
    """True when the streak is alive but the current period still needs activity (a paused one needs none)."""
    if state.length <= 0 or state.last_covered is None:
        return False
    current = cal.period_start(rules.frequency, today)
    return state.last_covered < current and not paused(rules.frequency, current, pauses)
