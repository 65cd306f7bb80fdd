"""Energy arithmetic (pure): ticks, fractions, caps, fatigue, costs, boosts split at their expiry, refills."""

import math
import random
from datetime import datetime, timedelta, timezone
from fractions import Fraction

import pytest

from gamify.engine import energy as e

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # a tick boundary (12-minute ticks from the epoch)
CFG = e.Config()


def env(premium=False, skills=None, boosts=(), base_max=None, tick=12):
    skills = skills or {}
    if base_max is None:
        base_max = e.tier_max(premium, CFG) + e.skill_max_bonus(skills, CFG)
    return e.Env(
        base_max=base_max,
        regen_per_hour=e.tier_regen(premium, CFG),
        tick_minutes=tick,
        fatigue_recovery_per_tick=e.fatigue_recovery_per_tick_milli(skills.get("meditation", 0), tick, CFG),
        fatigue_penalty=CFG.fatigue_regen_penalty,
        boosts=e.spans(boosts),
    )


def state(current, fatigue=0.0, at=T0, remainder=0):
    return e.State(current=current, remainder_milli=remainder, fatigue_milli=int(fatigue * 1000), last_regen_at=at)


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _overlap_seconds(a: datetime, b: datetime, start: datetime, end) -> Fraction:
    lo, hi = max(a, start), b if end is None else min(b, end)
    return Fraction((hi - lo) // timedelta(microseconds=1), 10**6) if hi > lo else Fraction(0)


def brute(st: e.State, en: e.Env, now: datetime) -> e.State:
    """Reference, written from the spec without the engine's helpers: one tick at a time on the clock
    boundaries (every tick_minutes since the epoch). A tick [a, b) adds rate x (1 - penalty x fatigue/100)
    x (its length + each regen boost's overlap with it x the boost's percent) in hours, floored to a milli;
    the max in force is the base plus the max-energy boosts active at the tick's end b; fatigue recovers
    a fixed amount per tick and never goes below 0."""
    tick = timedelta(minutes=en.tick_minutes)
    k = (st.last_regen_at - EPOCH) // tick
    k_now = (now - EPOCH) // tick
    if k_now <= k:
        return st
    E, F = st.milli, st.fatigue_milli
    while k < k_now:
        a, b = EPOCH + k * tick, EPOCH + (k + 1) * tick
        weighted_s = Fraction(tick // timedelta(microseconds=1), 10**6)
        for bs in en.boosts:
            if bs.type == "regen_speed":
                weighted_s += _overlap_seconds(a, b, bs.start, bs.end) * bs.value / 100
        fatigue_mult = 1 - en.fatigue_penalty * Fraction(min(F, 100_000), 100_000)
        amount = math.floor(en.regen_per_hour * 1000 * weighted_s / 3600 * fatigue_mult)
        m = 1000 * (
            en.base_max
            + sum(
                int(bs.value)
                for bs in en.boosts
                if bs.type == "max_energy_increase" and bs.start <= b and (bs.end is None or b < bs.end)
            )
        )
        if E < m:
            E = min(E + amount, m)
        F = max(0, F - en.fatigue_recovery_per_tick)
        k += 1
    return e.State(E // 1000, E % 1000, F, EPOCH + k * tick)


def test_premium_fractional_regen_over_five_ticks_is_exactly_eight():
    en = env(premium=True)
    assert e.tick_amount_milli(en, e.tick_index(T0, en.tick_us) + 1, 0) == 1600  # 1.6 per tick
    one = e.advance(state(100), en, T0 + timedelta(hours=1))
    assert (one.current, one.remainder_milli) == (108, 0)
    # Five separate reads, one per tick, give exactly the same.
    st = state(100)
    for i in range(1, 6):
        st = e.advance(st, en, T0 + timedelta(minutes=12 * i))
    assert st == one
    # Fractions carry: after 1 tick 101.6, after 2 ticks 103.2.
    assert e.advance(state(100), en, T0 + timedelta(minutes=12)).remainder_milli == 600
    assert e.advance(state(100), en, T0 + timedelta(minutes=24)).current == 103


def test_free_tier_regenerates_five_per_hour_and_partial_ticks_do_not_count():
    en = env()
    assert e.advance(state(50), en, T0 + timedelta(minutes=59)).current == 54
    assert e.advance(state(50), en, T0 + timedelta(minutes=60)).current == 55


def test_never_above_max_and_the_fraction_is_dropped_at_max():
    en = env(premium=True)
    st = e.advance(state(249, remainder=900), en, T0 + timedelta(hours=1))
    assert (st.current, st.remainder_milli) == (250, 0)
    assert e.advance(state(150), env(), T0 + timedelta(days=3)).current == 150


def test_offline_24_hours_counts_and_caps():
    assert e.advance(state(0), env(), T0 + timedelta(hours=24)).current == 120  # 5/h x 24
    assert e.advance(state(0), env(premium=True), T0 + timedelta(hours=24)).current == 192
    assert e.advance(state(100), env(), T0 + timedelta(hours=24)).current == 150


def test_ticks_are_on_clock_boundaries():
    mid = T0 + timedelta(minutes=7)
    en = env()
    assert e.next_tick_at(mid, 12) == T0 + timedelta(minutes=12)
    # Stored at 09:07 (mid-tick): the 09:12 boundary still counts a whole tick.
    assert e.advance(state(10, at=mid), en, T0 + timedelta(minutes=12)).current == 11


@pytest.mark.parametrize("endurance,expected", [(0, 10_000), (50, 7_500), (100, 5_000)])
def test_fatigue_gain_from_spending_50_energy(endurance, expected):
    assert e.fatigue_gain_milli(50, endurance, CFG) == expected


@pytest.mark.parametrize("meditation,expected", [(0, 10), (50, 15), (100, 20)])
def test_fatigue_recovery_in_one_hour(meditation, expected):
    assert e.fatigue_recovery_per_hour(meditation, CFG) == expected
    en = env(skills={"meditation": meditation})
    st = e.advance(state(150, fatigue=50), en, T0 + timedelta(hours=1))
    assert st.fatigue_milli == (50 - expected) * 1000


def test_fatigue_slows_regeneration_and_never_goes_below_zero():
    assert e.fatigue_multiplier(0, CFG.fatigue_regen_penalty) == 1
    assert e.fatigue_multiplier(100_000, CFG.fatigue_regen_penalty) == Fraction(1, 2)
    en = env()
    # Fatigue 100 -> the first tick gives 0.5 instead of 1.
    assert e.tick_amount_milli(en, e.tick_index(T0, en.tick_us) + 1, 100_000) == 500
    st = e.advance(state(0, fatigue=3), en, T0 + timedelta(hours=2))
    assert st.fatigue_milli == 0


def test_cost_reduction_example_duel():
    assert e.action_cost(25, 1, {"gun_fighting": 80}, {"gun_fighting": 25}) == 20
    assert e.action_cost(25, 1, {"gun_fighting": 0}, {"gun_fighting": 25}) == 25
    assert e.action_cost(25, 1, {"gun_fighting": 100}, {"gun_fighting": 25}) == 19  # 18.75 rounded up


def test_skill_reductions_are_capped_at_half():
    cost = e.action_cost(100, 1, {"a": 100, "b": 100}, {"a": 40, "b": 40})  # 80% -> capped 50%
    assert cost == 50


@pytest.mark.parametrize("difficulty,expected", [("easy", 20), ("medium", 25), ("hard", 33), ("expert", 40)])
def test_difficulty_multipliers_round_up(difficulty, expected):
    assert e.action_cost(25, e.DIFFICULTIES[difficulty]) == expected


def test_multipliers_are_exact_not_float():
    # 0.1 * 30 is 3.0000000000000004 in floats: rounding up must still give 3.
    assert e.action_cost(30, 0.1) == 3
    assert e.action_cost(0, 1.6) == 0


@pytest.mark.parametrize(
    "skills,bonus",
    [
        # the energy spec's example: endurance 50 -> 5 x 3 = 15, meditation 30 -> 2 x 2 = 4; 150 + 19 = 169
        ({"endurance": 50, "meditation": 30}, 19),
        ({"endurance": 49}, 12),  # 4 whole steps of 10
        ({"endurance": 100}, 15),  # endurance alone is capped at +15
        ({"meditation": 100}, 10),  # 6 steps x 2 = 12, capped at +10
        ({"endurance": 100, "meditation": 100}, 25),  # 15 + 10, the total cap
        ({"endurance": 500, "meditation": -3}, 15),  # levels clamped to 0..100
        ({}, 0),
    ],
)
def test_max_energy_skill_bonus_follows_the_spec(skills, bonus):
    assert e.skill_max_bonus(skills, CFG) == bonus
    assert e.tier_max(False, CFG) + bonus == 150 + bonus and e.tier_max(True, CFG) + bonus == 250 + bonus


def test_regen_boost_stops_exactly_at_expiry_inside_a_tick():
    # +100% regen from 09:00 to 09:30: ticks 09:12 and 09:24 are doubled, the 09:24-09:36 tick is
    # doubled for 6 minutes and normal for 6.
    en = env(boosts=[("regen_speed", 100, T0, T0 + timedelta(minutes=30))])
    k = e.tick_index(T0, en.tick_us)
    assert [e.tick_amount_milli(en, k + i, 0) for i in (1, 2, 3, 4)] == [2000, 2000, 1500, 1000]
    st = e.advance(state(0), en, T0 + timedelta(minutes=48))
    assert (st.current, st.remainder_milli) == (6, 500)
    # Split reads across the boundary give the same.
    mid = e.advance(state(0), en, T0 + timedelta(minutes=30))
    assert e.advance(mid, en, T0 + timedelta(minutes=48)) == st


def test_max_energy_boost_expiry_keeps_energy_but_stops_regen():
    en = env(boosts=[("max_energy_increase", 20, T0, T0 + timedelta(hours=1))])
    assert en.max_at(T0) == 170 and en.max_at(T0 + timedelta(hours=1)) == 150
    # 4 ticks while the boost is on (09:12 .. 09:48), then over the new max of 150: kept, no more regen.
    st = e.advance(state(165), en, T0 + timedelta(hours=2))
    assert st.current == 169


def test_time_until_and_human_text():
    en = env()
    st = state(138)
    assert e.time_until_full(st, en, T0) == T0 + timedelta(minutes=144)
    assert e.human_duration(144 * 60) == "2 h 24 min"
    assert e.human_duration(45 * 60) == "45 min"
    assert e.human_duration(2 * 3600) == "2 h"
    assert e.time_until(st, en, T0, 140) == T0 + timedelta(minutes=24)
    assert e.time_until(st, en, T0, 151) is None  # above max
    assert e.next_gain_at(st, en, T0 + timedelta(minutes=3)) == T0 + timedelta(minutes=12)
    assert e.mmss(9 * 60 + 5) == "09:05"
    # Premium 1.6/tick from 100.6: next +1 at the first tick (102.2).
    assert e.next_gain_at(state(100, remainder=600), env(premium=True), T0) == T0 + timedelta(minutes=12)


def test_time_until_with_fatigue_matches_the_tick_loop():
    en = env()
    st = state(0, fatigue=80)
    when = e.time_until(st, en, T0, 30)
    assert brute(st, en, when).current >= 30
    assert brute(st, en, when - timedelta(minutes=12)).current < 30


def test_refill_quote_charges_only_what_fits():
    assert e.refill_quote(3, 100, 150, 10, 10, 50) == (3, 30)
    assert e.refill_quote(10, 0, 150, 10, 10, 50) == (5, 50)  # 50 energy per refill at most
    assert e.refill_quote(5, 143, 150, 10, 10, 50) == (1, 7)  # room for 7: one token
    with pytest.raises(ValueError, match="full"):
        e.refill_quote(1, 150, 150, 10, 10, 50)
    with pytest.raises(ValueError, match="at most 10"):
        e.refill_quote(11, 0, 150, 10, 10, 50)
    with pytest.raises(ValueError):
        e.refill_quote(0, 0, 150, 10, 10, 50)


def test_split_reads_equal_one_read_randomised():
    rnd = random.Random(42)
    for _ in range(300):
        premium = rnd.random() < 0.5
        skills = {"meditation": rnd.randint(0, 100), "endurance": rnd.randint(0, 100)}
        start = T0 + timedelta(seconds=rnd.randint(0, 3600))
        boosts = []
        for _b in range(rnd.randint(0, 3)):
            b_start = start + timedelta(seconds=rnd.randint(0, 6 * 3600))
            end = None if rnd.random() < 0.2 else b_start + timedelta(seconds=rnd.randint(60, 5 * 3600))
            kind = rnd.choice(["regen_speed", "max_energy_increase"])
            boosts.append(
                (kind, rnd.choice([10, 25, 50, 100]) if kind == "regen_speed" else rnd.randint(1, 40), b_start, end)
            )
        en = env(premium=premium, skills=skills, boosts=boosts)
        st = state(rnd.randint(0, en.base_max), fatigue=rnd.randint(0, 100), at=start, remainder=rnd.randint(0, 999))
        end = start + timedelta(seconds=rnd.randint(0, 40 * 3600))
        one = e.advance(st, en, end)
        assert one == brute(st, en, end)
        split = st
        t = start
        while t < end:
            t = min(end, t + timedelta(seconds=rnd.randint(1, 4 * 3600)))
            split = e.advance(split, en, t)
        assert split == one
