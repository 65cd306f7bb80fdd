"""Energy arithmetic at its edges (issue 21): zero and one-unit costs, boosts on costs, refills at the
cap, read times exactly on / just before a tick, full balances, the presentation helpers and the
anti-cheat rules. Every expected value is a hand calculation from the energy spec (5/h free, 8/h
premium, 12-minute ticks, max 150/250, fatigue 0..100 -> regen x1.0..x0.5, >200 spent in an hour flagged)
or the puzzle-game spec (10 energy per token, 50 per refill, 10 tokens per refill)."""

from dataclasses import replace
from datetime import timedelta
from fractions import Fraction

import pytest

from gamify.engine import energy as e
from tests.unit.test_energy_engine import CFG, T0, env, state

MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)


def k0(en):
    """Index of the T0 boundary, from T0's position in seconds (T0 is a 12-minute boundary)."""
    return int((T0 - e.EPOCH).total_seconds()) // (en.tick_minutes * 60)


# ---------------------------------------------------------------- fatigue and costs


def test_no_spend_no_fatigue():
    assert e.fatigue_gain_milli(0, 0, CFG) == 0
    assert e.fatigue_gain_milli(-10, 0, CFG) == 0  # a negative "spend" (refund) adds nothing
    assert e.fatigue_gain_milli(1, 0, CFG) == 200  # 1 x 0.2 fatigue


def test_costs_default_to_medium_difficulty_and_no_boost():
    assert e.action_cost(100) == 100
    assert e.action_cost(25) == 25
    assert e.action_cost(1) == 1  # the cheapest action still costs 1
    assert e.action_cost(0) == 0
    assert e.action_cost(-5) == 0
    assert e.action_cost(10, 0) == 0  # a zero multiplier makes the action free, not 1


def test_a_reduction_skill_the_player_lacks_counts_as_level_0():
    # 400 x (1 - 0) = 400: a skill at level 1 would already take 0.25% (399)
    assert e.action_cost(400, 1, {}, {"gun_fighting": 25}) == 400
    assert e.action_cost(400, 1, None, {"gun_fighting": 25}) == 400
    assert e.action_cost(400, 1, {"gun_fighting": 1}, {"gun_fighting": 25}) == 399


@pytest.mark.parametrize(
    "pct,expected",
    [
        (10, 90),  # 100 x 0.9
        (25, 75),
        (50, 50),
        (80, 50),  # capped at 50%
        (-20, 100),  # a negative reduction never raises the cost
        (Fraction(1, 3), 100),  # 99.67 rounded up
    ],
)
def test_consumption_boosts_reduce_costs_capped_at_half(pct, expected):
    assert e.action_cost(100, boost_reduction_pct=pct) == expected


def test_skill_and_boost_reductions_multiply():
    # 100 x (1 - 0.20) x (1 - 0.10) = 72 (not 100 x (1 - 0.30) = 70)
    assert e.action_cost(100, 1, {"gun_fighting": 80}, {"gun_fighting": 25}, boost_reduction_pct=10) == 72
    # hard 1.3: 40 x 1.3 = 52, x 0.5 (skills capped at 50%) = 26, x 0.5 (boosts capped at 50%) = 13
    assert e.action_cost(40, 1.3, {"a": 100}, {"a": 100}, boost_reduction_pct=90) == 13


# ---------------------------------------------------------------- refills


def test_refill_messages_and_the_last_free_point():
    with pytest.raises(ValueError, match="^choose at least 1 token$"):
        e.refill_quote(0, 0, 150, 10, 10, 50)
    with pytest.raises(ValueError, match="^at most 10 tokens per refill$"):
        e.refill_quote(11, 0, 150, 10, 10, 50)
    with pytest.raises(ValueError, match="^your energy is already full$"):
        e.refill_quote(1, 150, 150, 10, 10, 50)
    with pytest.raises(ValueError, match="^your energy is already full$"):
        e.refill_quote(1, 170, 150, 10, 10, 50)  # above max via gifts: still full
    assert e.refill_quote(1, 149, 150, 10, 10, 50) == (1, 1)  # room 1: one token for 1 energy
    assert e.refill_quote(10, 0, 150, 10, 10, 50) == (5, 50)
    assert e.refill_quote(10, 0, 150, 10, 10, 200) == (10, 100)  # 10 tokens x 10


# ---------------------------------------------------------------- boosts in the environment


def test_consumption_boost_percent_in_force():
    boosts = [
        ("consumption_reduction", 10, T0, T0 + timedelta(hours=1)),
        ("consumption_reduction", 15, T0 + 30 * MIN, None),
        ("regen_speed", 50, T0, None),  # another type: not a consumption reduction
    ]
    en = env(boosts=boosts)
    assert en.consumption_pct_at(T0 - SEC) == 0
    assert en.consumption_pct_at(T0) == 10
    assert en.consumption_pct_at(T0 + 30 * MIN) == 25
    assert en.consumption_pct_at(T0 + timedelta(hours=1)) == 15  # the first one ends at its expiry
    assert env().consumption_pct_at(T0) == 0


def test_effective_regen_rate_combines_boost_and_fatigue():
    en = env(premium=True, boosts=[("regen_speed", 50, T0, T0 + timedelta(hours=1))])
    # 8/h x 1.5 x (1 - 0.5 x 0.5) = 8 x 1.5 x 0.75 = 9
    assert en.effective_regen_per_hour(T0, 50_000) == 9
    assert en.effective_regen_per_hour(T0 + timedelta(hours=1), 50_000) == 6  # 8 x 0.75 after expiry
    assert en.effective_regen_per_hour(T0 - SEC, 0) == 8


def test_tick_amounts_are_exact_with_fatigue():
    # premium 1.6 per tick x (1 - 0.5 x 0.725) = 1.6 x 0.6375 = 1.02 exactly (floats give 1.0199999...)
    en = env(premium=True)
    assert e.tick_amount_milli(en, k0(en) + 1, 72_500) == 1020
    # 0.6 x 1.6 = 0.96 at fatigue 80; over 100 counts as 100: 0.8
    assert e.tick_amount_milli(en, k0(en) + 1, 80_000) == 960
    assert e.tick_amount_milli(en, k0(en) + 1, 150_000) == 800


# ---------------------------------------------------------------- reads on and around tick boundaries


def test_a_read_one_second_before_a_tick_adds_nothing_and_keeps_the_stored_time():
    en = env()
    st = state(7, at=T0 + 3 * MIN)
    assert e.advance(st, en, T0 + 12 * MIN - SEC) == st
    after = e.advance(st, en, T0 + 12 * MIN)
    assert (after.current, after.last_regen_at) == (8, T0 + 12 * MIN)


def test_spec_example_61_minutes_after_a_spend():
    # Free tier, spent down to 7 at 09:00: 61 minutes later 5 whole ticks (09:12..10:00) -> 12
    assert e.advance(state(7), env(), T0 + 61 * MIN).current == 12
    # With a max of 10 (base_max 10) the same ticks stop at the cap
    assert e.advance(state(7), env(base_max=10), T0 + 61 * MIN).current == 10


def test_fatigue_keeps_recovering_while_full():
    # Full (150) at fatigue 30, meditation 0: 2 points per 12-minute tick -> after 1 h 30 - 10 = 20
    st = e.advance(state(150, fatigue=30), env(), T0 + timedelta(hours=1))
    assert (st.current, st.fatigue_milli) == (150, 20_000)
    # Above max (a gift took it to 170): kept, no regen, fatigue still recovers
    st = e.advance(state(170, fatigue=30), env(), T0 + timedelta(hours=1))
    assert (st.current, st.fatigue_milli) == (170, 20_000)


def test_regen_with_recovering_fatigue_tick_by_tick():
    # Free 1/tick; fatigue 10 at 09:00, recovering 2 per tick (10/h). Tick k uses the fatigue at its start:
    # 10, 8, 6, 4, 2 -> multipliers 0.95, 0.96, 0.97, 0.98, 0.99 -> 4.85 in the hour, fatigue 0 after.
    st = e.advance(state(0, fatigue=10), env(), T0 + timedelta(hours=1))
    assert (st.current, st.remainder_milli, st.fatigue_milli) == (4, 850, 0)
    # the next hour at fatigue 0: +5 -> 9.85
    st = e.advance(st, env(), T0 + timedelta(hours=2))
    assert (st.current, st.remainder_milli, st.fatigue_milli) == (9, 850, 0)


def test_regen_with_fatigue_reaches_the_cap_exactly():
    # 148 at fatigue 10: 0.95 + 0.96 = 1.91 -> 149.91, then +0.97 -> capped at 150 with no remainder
    st = e.advance(state(148, fatigue=10), env(), T0 + 36 * MIN)
    assert (st.current, st.remainder_milli, st.fatigue_milli) == (150, 0, 4_000)


# ---------------------------------------------------------------- time until


def test_time_until_a_balance_already_reached_is_now_even_mid_tick():
    mid = T0 + 7 * MIN
    assert e.time_until(state(40), env(), mid, 40) == mid
    assert e.time_until(state(40), env(), mid, 39) == mid
    assert e.time_until(state(40), env(), mid, 41) == T0 + 12 * MIN


def test_time_until_full_when_already_full_is_now():
    mid = T0 + 7 * MIN
    assert e.time_until_full(state(150), env(), mid) == mid
    assert e.time_until_full(state(170), env(), mid) == mid  # above max via a gift
    # one point short: the 09:12 tick fills it
    assert e.time_until_full(state(149), env(), mid) == T0 + 12 * MIN


def test_time_until_full_with_a_max_boost_counts_the_boosted_max():
    # +20 max from 09:00 for 10 hours: 160 of 170 -> 10 ticks (2 h) at 1 per tick
    en = env(boosts=[("max_energy_increase", 20, T0, T0 + timedelta(hours=10))])
    assert e.time_until_full(state(160), en, T0) == T0 + timedelta(hours=2)
    assert e.time_until_full(state(170), en, T0 + 5 * MIN) == T0 + 5 * MIN
    assert e.next_gain_at(state(160), en, T0 + 5 * MIN) == T0 + 12 * MIN
    assert e.next_gain_at(state(170), en, T0 + 5 * MIN) is None


def test_without_regeneration_never_full():
    still = replace(env(), regen_per_hour=Fraction(0))
    assert e.time_until_full(state(10), still, T0) is None
    assert e.time_until(state(10), still, T0, 11) is None
    assert e.next_gain_at(state(10), still, T0) is None


def test_full_now_means_no_next_gain_even_if_a_max_boost_starts_later():
    en = env(boosts=[("max_energy_increase", 20, T0 + timedelta(hours=1), None)])
    assert e.next_gain_at(state(150), en, T0) is None
    # once the boost is on, the first tick after it (10:12) brings 151
    assert e.next_gain_at(state(150, at=T0 + timedelta(hours=1)), en, T0 + timedelta(hours=1)) == T0 + 72 * MIN


# ---------------------------------------------------------------- presentation


@pytest.mark.parametrize(
    "seconds,text",
    [
        (None, ""),
        (0, "0 min"),
        (-30, "0 min"),
        (0.5, "1 min"),  # rounded up
        (1, "1 min"),
        (60, "1 min"),
        (61, "2 min"),
        (3600, "1 h"),
        (3601, "1 h 1 min"),
    ],
)
def test_human_duration(seconds, text):
    assert e.human_duration(seconds) == text


@pytest.mark.parametrize(
    "seconds,text",
    [
        (None, ""),
        (0, "00:00"),
        (-3, "00:00"),
        (0.2, "00:01"),
        (59, "00:59"),
        (3599, "59:59"),
        (3600, "1:00:00"),
        (3725, "1:02:05"),  # 1 h 2 min 5 s
    ],
)
def test_mmss(seconds, text):
    assert e.mmss(seconds) == text


# ---------------------------------------------------------------- anti-cheat


def test_spending_review_flags_more_than_the_player_could_have_had():
    # free: max 150 + an hour of regen 5 + top-ups 10 = 165
    assert e.spending_review(166, 10, 150, 5, CFG) == (
        165,
        "spent 166 energy in the last hour; max 150 + regeneration 5 + top-ups 10 allow 165",
    )
    assert e.spending_review(165, 10, 150, 5, CFG) is None  # exactly what they could have had


def test_spending_review_flags_more_than_200_an_hour():
    # premium: 250 + 8 = 258 possible, but the spec flags more than 200 spent in an hour
    reason = "spent 201 energy in the last hour, more than the limit of 200"
    assert e.spending_review(201, 0, 250, 8, CFG) == (200, reason)
    assert e.spending_review(200, 0, 250, 8, CFG) is None
    off = replace(CFG, flag_spend_per_hour=None)
    assert e.spending_review(250, 0, 250, 8, off) is None
    assert e.spending_review(259, 0, 250, 8, off)[0] == 258


# ---------------------------------------------------------------- tiny amounts and boundaries of the fast path


def trickle():
    """0.005 energy per hour: one milli-unit per 12-minute tick (0.005 x 0.2 h = 0.001), no fatigue recovery."""
    return e.Env(
        base_max=150,
        regen_per_hour=Fraction(1, 200),
        tick_minutes=12,
        fatigue_recovery_per_tick=0,
        fatigue_penalty=Fraction(1, 2),
    )


def test_one_milli_per_tick_still_counts():
    st = e.advance(state(10), trickle(), T0 + timedelta(hours=1))
    assert (st.current, st.remainder_milli) == (10, 5)  # 5 ticks x 1 milli
    # 1000 ticks of 12 minutes (200 h) for the next whole point
    assert e.time_until(state(10), trickle(), T0, 11) == T0 + timedelta(hours=200)
    assert e.next_gain_at(state(10), trickle(), T0) == T0 + timedelta(hours=200)


def test_without_regeneration_nothing_changes_but_the_tick():
    still = replace(env(), regen_per_hour=Fraction(0))
    st = e.advance(state(10, remainder=500), still, T0 + timedelta(hours=1))
    assert (st.current, st.remainder_milli, st.last_regen_at) == (10, 500, T0 + timedelta(hours=1))


def test_the_last_milli_of_fatigue_recovers():
    # fatigue 0.001: the first tick gives floor(1000 x (1 - 0.5 x 0.00001)) = floor(999.995) = 999 and
    # recovery (2 per tick) clears it; the other 4 ticks of the hour give 1000 each
    st = e.advance(state(0, fatigue=0.001), env(), T0 + timedelta(hours=1))
    assert (st.current, st.remainder_milli, st.fatigue_milli) == (4, 999, 0)


def test_fatigue_recovering_one_milli_per_tick():
    en = replace(env(), fatigue_recovery_per_tick=1)
    # fatigue 0.005 recovers 0.001 per tick: 0 after 5 ticks; each of those ticks gives
    # floor(1000 x (1 - 0.5 x F/100000)) = 999 for F = 5..1 milli
    st = e.advance(state(0, fatigue=0.005), en, T0 + timedelta(hours=1))
    assert (st.current, st.remainder_milli, st.fatigue_milli) == (4, 995, 0)


def test_time_until_a_target_reached_on_the_last_tick_before_a_boost_starts():
    # Free 1 per tick; +100% regen from 10:00 to 11:00. From 10 at 09:00, 14 is reached at 09:48 (4 ticks),
    # 15 at 10:00 (the 5th tick, before the boost), 17 at 10:12 (doubled tick: 15 + 2).
    en = env(boosts=[("regen_speed", 100, T0 + timedelta(hours=1), T0 + timedelta(hours=2))])
    assert e.time_until(state(10), en, T0, 14) == T0 + 48 * MIN
    assert e.time_until(state(10), en, T0, 15) == T0 + 60 * MIN
    assert e.time_until(state(10), en, T0, 17) == T0 + 72 * MIN


def test_exact_values_from_any_admin_input():
    assert e.q(0.2) == Fraction(1, 5)  # a float by its shortest repr, not 0.2000000000000000111...
    assert e.q("0.2") == Fraction(1, 5)
    assert e.q("1/3") == Fraction(1, 3)
    assert e.q(e.Decimal("2.5")) == Fraction(5, 2)
    assert e.q(7) == 7


@pytest.mark.parametrize("level,expected", [(None, 0), ("abc", 0), ("40", 40), (-1, 0), (101, 100), (55.9, 55)])
def test_skill_levels_are_clamped_and_junk_is_level_0(level, expected):
    assert e.clamp_skill(level) == expected


def test_time_until_exactly_on_a_fatigued_tick():
    # 0.1 stored, fatigue 20: the 09:12 tick gives 1 x (1 - 0.5 x 0.2) = 0.9 -> exactly 1.0 at 09:12
    assert e.time_until(state(0, fatigue=20, remainder=100), env(), T0, 1) == T0 + 12 * MIN
    # 149 at fatigue 10: 0.95 (149.95), then 0.96 at fatigue 8 -> capped 150 at 09:24
    assert e.time_until_full(state(149, fatigue=10), env(), T0) == T0 + 24 * MIN
