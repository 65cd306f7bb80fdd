"""Energy arithmetic: lazy tick regeneration, fatigue, skills, action costs, refills. Pure: no Flask, no DB.

Exactness: energy and fatigue are integers in milli-units (1 energy = 1000 milli) and every rate is a
`Fraction`, so nothing drifts. Regeneration happens on tick boundaries aligned to the Unix epoch
(every `tick_minutes` on the clock): the amount of one tick is the exact integral of the regen rate
over that tick (split at boost start/expiry instants), times the fatigue multiplier at the start of
the tick, floored to a whole milli-unit. Because every tick is computed the same way whatever the
moment it is looked at, reading twice (splitting the elapsed time) gives exactly what one read gives.

Fatigue recovers on the same tick boundaries; a spend adds fatigue at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Iterable, Optional

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MILLI = 1000
US = 10**6  # microseconds per second
HOUR_US = 3600 * US
FATIGUE_MAX = 100 * MILLI

DIFFICULTIES = {"easy": 0.8, "medium": 1.0, "hard": 1.3, "expert": 1.6}
BOOST_TYPES = ("regen_speed", "max_energy_increase", "consumption_reduction", "instant_refill")
RARITIES = ("common", "rare", "epic", "legendary")
SKILL_MAX = 100
# Max-energy bonus from skills (the energy spec's ENERGY_SKILLS): per skill, +per_step for every `step`
# levels, at most `cap`; the sum is capped by Config.max_skill_bonus (+25).
# Endurance 50 + meditation 30: 15 + 4 = +19 (169 free, 269 premium).
MAX_ENERGY_SKILLS = {"endurance": (10, 3, 15), "meditation": (15, 2, 10)}  # skill: (step, per_step, cap)


def q(x) -> Fraction:
    """An exact Fraction from an int, a Decimal, a str or a float (floats by their shortest repr: 0.2 -> 1/5)."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (int, Decimal)):
        return Fraction(x)
    if isinstance(x, float):
        return Fraction(repr(x))
    return Fraction(str(x))


def clamp_skill(level) -> int:
    try:
        level = int(level)
    except (TypeError, ValueError):
        return 0
    return max(0, min(SKILL_MAX, level))


@dataclass(frozen=True)
class Config:
    """The admin-editable numbers (EnergySettings), as exact values."""

    free_max: int = 150
    free_regen_per_hour: Fraction = Fraction(5)
    premium_max: int = 250
    premium_regen_per_hour: Fraction = Fraction(8)
    tick_minutes: int = 12
    max_skill_bonus: int = 25
    fatigue_gain_per_energy: Fraction = Fraction(1, 5)
    endurance_fatigue_reduction: Fraction = Fraction(1, 2)  # share of fatigue gain removed at endurance 100
    fatigue_recovery_per_hour: Fraction = Fraction(10)
    meditation_recovery_bonus: Fraction = Fraction(10)  # extra recovery per hour at meditation 100
    fatigue_regen_penalty: Fraction = Fraction(1, 2)  # share of regen lost at fatigue 100
    max_skill_cost_reduction: Fraction = Fraction(1, 2)
    flag_spend_per_hour: Optional[int] = 200  # anti-cheat: more spent in a rolling hour is flagged (None: off)
    max_boost_cost_reduction: Fraction = Fraction(1, 2)


# ---------------------------------------------------------------- skills, fatigue, tiers, costs


def skill_max_bonus(skills: dict, cfg: Config) -> int:
    bonus = 0
    for skill, (step, per_step, cap) in MAX_ENERGY_SKILLS.items():
        bonus += min(cap, clamp_skill((skills or {}).get(skill, 0)) // step * per_step)
    return min(cfg.max_skill_bonus, bonus)


def tier_max(premium: bool, cfg: Config) -> int:
    return cfg.premium_max if premium else cfg.free_max


def tier_regen(premium: bool, cfg: Config) -> Fraction:
    return q(cfg.premium_regen_per_hour if premium else cfg.free_regen_per_hour)


def fatigue_gain_milli(energy_spent: int, endurance: int, cfg: Config) -> int:
    """Fatigue (milli-points) from spending energy: 50 energy at endurance 0/50/100 -> 10/7.5/5 points."""
    per_energy = q(cfg.fatigue_gain_per_energy) * (
        1 - q(cfg.endurance_fatigue_reduction) * Fraction(clamp_skill(endurance), SKILL_MAX)
    )
    return math.floor(max(0, energy_spent) * per_energy * MILLI)


def fatigue_recovery_per_hour(meditation: int, cfg: Config) -> Fraction:
    """Fatigue points recovered per hour: meditation 0/50/100 -> 10/15/20."""
    return q(cfg.fatigue_recovery_per_hour) + q(cfg.meditation_recovery_bonus) * Fraction(
        clamp_skill(meditation), SKILL_MAX
    )


def fatigue_recovery_per_tick_milli(meditation: int, tick_minutes: int, cfg: Config) -> int:
    return math.floor(fatigue_recovery_per_hour(meditation, cfg) * Fraction(tick_minutes, 60) * MILLI)


def fatigue_multiplier(fatigue_milli: int, penalty) -> Fraction:
    """Regen multiplier: 1.0 at fatigue 0, 1 - penalty (0.5) at fatigue 100."""
    f = Fraction(max(0, min(FATIGUE_MAX, fatigue_milli)), FATIGUE_MAX)
    return 1 - q(penalty) * f


def skill_cost_reduction(skills: dict, reductions: dict, cap) -> Fraction:
    """Each skill reduces linearly up to its max share at level 100; the total is capped (50%).
    `reductions` maps skill -> max reduction in percent (25 = up to 25% at level 100)."""
    total = Fraction(0)
    for skill, max_pct in (reductions or {}).items():
        total += q(max_pct) / 100 * Fraction(clamp_skill((skills or {}).get(skill, 0)), SKILL_MAX)
    return max(Fraction(0), min(q(cap), total))


def action_cost(
    base_cost: int,
    multiplier=1,
    skills: Optional[dict] = None,
    reductions: Optional[dict] = None,
    cfg: Config = Config(),
    boost_reduction_pct=0,
) -> int:
    """Energy an action costs: base x difficulty, minus skill reductions (capped), minus consumption
    boosts (capped), rounded up. duel 25 at gun_fighting 80 with up to 25% -> 20."""
    if base_cost <= 0:
        return 0
    cost = q(base_cost) * q(multiplier)
    cost *= 1 - skill_cost_reduction(skills or {}, reductions or {}, cfg.max_skill_cost_reduction)
    boost = max(Fraction(0), min(q(cfg.max_boost_cost_reduction), q(boost_reduction_pct) / 100))
    cost *= 1 - boost
    return max(0, math.ceil(cost))


def refill_quote(
    tokens: int, current: int, max_energy: int, energy_per_token: int, max_tokens: int, max_energy_per_refill: int
) -> tuple[int, int]:
    """(tokens to charge, energy to add) for a refill request; raises ValueError with a clear reason.
    Only the tokens needed are charged: a refill never goes above max."""
    if tokens < 1:
        raise ValueError("choose at least 1 token")
    if tokens > max_tokens:
        raise ValueError(f"at most {max_tokens} tokens per refill")
    room = max_energy - current
    if room <= 0:
        raise ValueError("your energy is already full")
    energy = min(tokens * energy_per_token, max_energy_per_refill, room)
    charge = math.ceil(Fraction(energy, energy_per_token))
    return charge, energy


# ---------------------------------------------------------------- regeneration


@dataclass(frozen=True)
class State:
    current: int
    remainder_milli: int
    fatigue_milli: int
    last_regen_at: datetime

    @property
    def milli(self) -> int:
        return self.current * MILLI + self.remainder_milli


@dataclass(frozen=True)
class BoostSpan:
    type: str
    value: Fraction
    start: datetime
    end: Optional[datetime]  # None = permanent

    def active_at(self, t: datetime) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


@dataclass(frozen=True)
class Env:
    """Everything regeneration depends on for one player (besides time)."""

    base_max: int  # tier max + skill bonus
    regen_per_hour: Fraction
    tick_minutes: int
    fatigue_recovery_per_tick: int  # milli
    fatigue_penalty: Fraction
    boosts: tuple = field(default_factory=tuple)  # BoostSpan

    @property
    def tick_us(self) -> int:
        return self.tick_minutes * 60 * US

    def max_at(self, t: datetime) -> int:
        return self.base_max + sum(
            int(b.value) for b in self.boosts if b.type == "max_energy_increase" and b.active_at(t)
        )

    def regen_pct_at(self, t: datetime) -> Fraction:
        return sum((b.value for b in self.boosts if b.type == "regen_speed" and b.active_at(t)), Fraction(0))

    def consumption_pct_at(self, t: datetime) -> Fraction:
        return sum((b.value for b in self.boosts if b.type == "consumption_reduction" and b.active_at(t)), Fraction(0))

    def effective_regen_per_hour(self, t: datetime, fatigue_milli: int) -> Fraction:
        return (
            self.regen_per_hour
            * (1 + self.regen_pct_at(t) / 100)
            * fatigue_multiplier(fatigue_milli, self.fatigue_penalty)
        )

    def boundaries(self) -> list[datetime]:
        out = set()
        for b in self.boosts:
            if b.type in ("regen_speed", "max_energy_increase"):
                out.add(b.start)
                if b.end is not None:
                    out.add(b.end)
        return sorted(out)


def _us(t: datetime) -> int:
    return (t - EPOCH) // timedelta(microseconds=1)


def tick_index(t: datetime, tick_us: int) -> int:
    """Index of the last tick boundary at or before t."""
    return _us(t) // tick_us


def tick_time(k: int, tick_us: int) -> datetime:
    return EPOCH + timedelta(microseconds=k * tick_us)


def next_tick_at(now: datetime, tick_minutes: int) -> datetime:
    tick_us = tick_minutes * 60 * US
    return tick_time(tick_index(now, tick_us) + 1, tick_us)


def tick_amount_milli(env: Env, k: int, fatigue_milli: int) -> int:
    """Regen of the tick ending at boundary k: the integral of the rate over [t(k-1), t(k)),
    split at every boost start/expiry inside it, times the fatigue multiplier, floored."""
    a, b = tick_time(k - 1, env.tick_us), tick_time(k, env.tick_us)
    cuts = [a] + [x for x in env.boundaries() if a < x < b] + [b]
    hours_weighted = Fraction(0)
    for s, e in zip(cuts, cuts[1:]):
        hours_weighted += (1 + env.regen_pct_at(s) / 100) * Fraction(_us(e) - _us(s), HOUR_US)
    total = env.regen_per_hour * MILLI * hours_weighted * fatigue_multiplier(fatigue_milli, env.fatigue_penalty)
    return math.floor(total)


def _simulate(
    state: State, env: Env, k_end: Optional[int], target_milli: Optional[int] = None, until_full: bool = False
):
    """Advance from the state's tick boundary to boundary k_end, or (k_end None) until the balance
    reaches target_milli / the max in force. Returns (energy_milli, fatigue_milli, k, reached), k being the
    last boundary processed.

    Ticks are applied one at a time, except runs of ticks inside one constant-boost segment while
    fatigue cannot change the amount (fatigue 0, no recovery, or energy full): those are applied in
    closed form, which gives exactly what the tick-by-tick loop gives."""
    tick_us = env.tick_us
    k = tick_index(state.last_regen_at, tick_us)
    E, F = state.milli, state.fatigue_milli
    rec = env.fatigue_recovery_per_tick
    bounds = env.boundaries()
    seeking = until_full or target_milli is not None

    def goal(m: int) -> int:
        return m if until_full else target_milli

    while k_end is None or k < k_end:
        start = tick_time(k, tick_us)
        m = env.max_at(tick_time(k + 1, tick_us)) * MILLI
        nb = next((x for x in bounds if x > start), None)
        if nb is None:
            last = None  # one segment to the end of time
        else:
            last = tick_index(nb, tick_us)
            if tick_time(last, tick_us) >= nb:
                last -= 1  # ticks ending at or after nb see another max / straddle nb
        if k_end is not None:
            last = k_end if last is None else min(last, k_end)
        n = None if last is None else last - k
        if (n is None or n >= 1) and (F == 0 or rec == 0 or E >= m):
            if E >= m:
                if n is None:
                    return E, F, k, seeking and E >= goal(m)
                F = max(0, F - n * rec)
                k += n
                continue
            a = tick_amount_milli(env, k + 1, F)
            if seeking and goal(m) <= m and a > 0:
                need = math.ceil(Fraction(goal(m) - E, a))
                if n is None or need <= n:
                    return min(E + need * a, m), F, k + need, True
            if n is None:
                return E, F, k, False  # no regeneration, or the goal is above the max for good
            if a > 0:
                fill = math.ceil(Fraction(m - E, a))
                E = m if fill <= n else E + n * a
            k += n
            continue
        # One tick (fatigue recovering, or the tick touches a boost start/expiry).
        a = tick_amount_milli(env, k + 1, F)
        if E < m:
            E = min(E + a, m)
        F = max(0, F - rec)
        k += 1
        if seeking and E >= goal(m):
            return E, F, k, True
    return E, F, k, seeking and E >= goal(env.max_at(tick_time(k, tick_us)) * MILLI)


def advance(state: State, env: Env, now: datetime) -> State:
    """The state at `now`: every whole tick since the last one processed, capped at max."""
    tick_us = env.tick_us
    k_now = tick_index(now, tick_us)
    if k_now <= tick_index(state.last_regen_at, tick_us):
        return state
    E, F, k, _ = _simulate(state, env, k_now)
    return State(current=E // MILLI, remainder_milli=E % MILLI, fatigue_milli=F, last_regen_at=tick_time(k, tick_us))


def time_until(state: State, env: Env, now: datetime, target: int) -> Optional[datetime]:
    """When regeneration alone brings the balance to `target` whole energy (now if already there);
    None if never (target above the max, or no regeneration)."""
    state = advance(state, env, now)
    if state.current >= target:
        return now
    _E, _F, k, reached = _simulate(state, env, None, target_milli=target * MILLI)
    return tick_time(k, env.tick_us) if reached else None


def time_until_full(state: State, env: Env, now: datetime) -> Optional[datetime]:
    state = advance(state, env, now)
    if state.current >= env.max_at(now):
        return now
    _E, _F, k, reached = _simulate(state, env, None, until_full=True)
    return tick_time(k, env.tick_us) if reached else None


def next_gain_at(state: State, env: Env, now: datetime) -> Optional[datetime]:
    """When the next whole energy point arrives (None when full or not regenerating)."""
    state = advance(state, env, now)
    if state.current >= env.max_at(now):
        return None
    return time_until(state, env, now, state.current + 1)


# ---------------------------------------------------------------- presentation


def human_duration(seconds: Optional[float]) -> str:
    """'2 h 24 min', '45 min', '1 min' (rounded up to the minute); '' for None."""
    if seconds is None:
        return ""
    if seconds <= 0:
        return "0 min"
    minutes = math.ceil(seconds / 60)
    h, m = divmod(minutes, 60)
    if h and m:
        return f"{h} h {m} min"
    if h:
        return f"{h} h"
    return f"{m} min"


def mmss(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    s = max(0, math.ceil(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def spans(boosts: Iterable[tuple]) -> tuple:
    """BoostSpans from (type, value, start, end) tuples."""
    return tuple(BoostSpan(t, q(v), s, e) for t, v, s, e in boosts)


# ---------------------------------------------------------------- anti-cheat


def spending_review(spent: int, inflow: int, max_energy: int, regen: int, cfg: Config) -> Optional[tuple[int, str]]:
    """(allowed, reason) when the energy spent in the last hour is suspicious, else None. Two rules: more
    than the energy spec's hourly limit (cfg.flag_spend_per_hour, 200), or more than the player could
    have had (max + an hour of regeneration + top-ups)."""
    allowed = max_energy + regen + inflow
    if spent > allowed:  # the stronger evidence: more than the player can have had
        return allowed, (
            f"spent {spent} energy in the last hour; max {max_energy} + regeneration {regen} + top-ups {inflow} "
            f"allow {allowed}"
        )
    limit = cfg.flag_spend_per_hour
    if limit is not None and spent > limit:
        return limit, f"spent {spent} energy in the last hour, more than the limit of {limit}"
    return None
