"""Points arithmetic (pure engine): metric trigger amounts, stacked boosts, caps, levels, the
level_changed payload and streak triggers. Rules from trophy-blog ("Points: Ledger, Triggers, Boosts,
and Levels"): boosts multiply (2x and 1.5x give 3x), the combined multiplier is kept on the award,
rounding is floor | ceil | nearest, a user's level is the highest threshold the balance clears, and
points.level_changed carries both the previous and the new level."""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamify.engine import points as engine
from tests.hypo import examples

# --- metric trigger amounts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "old_total, new_total, expected",
    [
        (0, 25, 0),  # first 25 minutes: no 30 crossed yet
        (25, 50, 10),  # 25 + 25: the 30 mark is crossed on the second event
        (0, 30, 10),  # landing exactly on 30 counts
        (30, 59, 0),  # 30 was already paid; 60 not reached
        (30, 60, 10),  # exactly the next mark, paid once (not twice for 30 again)
        (10, 100, 30),  # 30, 60 and 90 crossed in one event: 3 x 10
        (60, 20, 0),  # a total going down never takes points back through this trigger
        (45, 45, 0),
    ],
)
def test_metric_trigger_pays_for_every_whole_unit_crossed(old_total, new_total, expected):
    """ "10 XP per 30 minutes" (the docstring's example)."""
    assert engine.metric_trigger_amount(10, 30, old_total, new_total) == expected


def test_metric_trigger_is_exact_on_float_multiples():
    # 0.1 + 0.2 = 0.30000000000000004 and 0.3 / 0.1 = 2.9999999999999996 in floats: three marks
    # of 0.1 are reached either way (0.1, 0.2, 0.3), so 3 x 5 points.
    assert engine.metric_trigger_amount(5, 0.1, 0, 0.3) == 15
    assert engine.metric_trigger_amount(5, 0.1, 0.1, 0.3) == 10


@pytest.mark.parametrize("per_units", [0, None])
def test_metric_trigger_without_a_unit_pays_per_whole_unit(per_units):
    # No unit means "per 1": 0 -> 3 crosses 1, 2 and 3.
    assert engine.metric_trigger_amount(4, per_units, 0, 3) == 12
    assert engine.metric_trigger_amount(4, per_units, 2.5, 3.4) == 4


@settings(max_examples=examples(200), deadline=None)
@given(
    points=st.integers(1, 50),
    per=st.integers(1, 40),
    old=st.integers(0, 500),
    gain=st.integers(0, 300),
)
def test_metric_trigger_matches_counting_the_marks(points, per, old, gain):
    """Reference: count the multiples of `per` in (old, old + gain] one by one."""
    new = old + gain
    marks = sum(1 for m in range(old + 1, new + 1) if m % per == 0)
    assert engine.metric_trigger_amount(points, per, old, new) == points * marks


# --- boosts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "multipliers, expected",
    [
        ([], Decimal(1)),
        ([2.0], Decimal(2)),
        ([2.0, 1.5], Decimal(3)),  # the blog's example: 2x global and 1.5x personal give 3x
        ([1.1, 1.1, 1.1], Decimal("1.331")),  # exact, not 1.3310000000000004
        ([0.5, 4], Decimal(2)),
    ],
)
def test_boosts_multiply(multipliers, expected):
    assert engine.stacked_multiplier(multipliers) == expected


def test_boosted_returns_amount_and_combined_multiplier():
    assert engine.boosted(10, [2.0, 1.5], "floor") == (30, 3.0)
    assert engine.boosted(10, [1.5], "floor") == (15, 1.5)


def test_boosted_rounds_down_by_default():
    # 5 x 1.5 = 7.5 -> 7 with the default mode.
    assert engine.boosted(5, [1.5]) == (7, 1.5)


@pytest.mark.parametrize(
    "rounding, expected",
    [("floor", 1331), ("nearest", 1331), ("ceil", 1331)],
)
def test_boosted_exact_product_is_not_rounded_up_by_float_drift(rounding, expected):
    # 1000 x 1.1 x 1.1 x 1.1 = 1331 exactly; float arithmetic would give 1331.0000000000005 -> ceil 1332.
    assert engine.boosted(1000, [1.1, 1.1, 1.1], rounding)[0] == expected


@pytest.mark.parametrize(
    "rounding, expected",
    [("floor", 13), ("nearest", 13), ("ceil", 14)],
)
def test_boosted_rounding_modes(rounding, expected):
    # 10 x 1.331 = 13.31
    assert engine.boosted(10, [1.1, 1.1, 1.1], rounding) == (expected, 1.331)


@pytest.mark.parametrize("base", [0, -1, -5])
def test_zero_and_penalties_are_not_boosted(base):
    assert engine.boosted(base, [2.0], "ceil") == (base, 1.0)


def test_a_gain_of_one_point_is_boosted():
    assert engine.boosted(1, [3.0], "floor") == (3, 3.0)


def test_no_boosts_leave_the_amount_alone():
    assert engine.boosted(7, [], "ceil") == (7, 1.0)


@settings(max_examples=examples(200), deadline=None)
@given(
    base=st.integers(1, 10_000),
    tenths=st.lists(st.integers(1, 40), min_size=1, max_size=3),
    rounding=st.sampled_from(["floor", "ceil", "nearest"]),
)
def test_boosted_matches_exact_fraction_arithmetic(base, tenths, rounding):
    """Reference: multipliers of tenths (0.1 .. 4.0) multiplied as exact fractions, then rounded
    down, up, or half up."""
    exact = Fraction(base)
    for t in tenths:
        exact *= Fraction(t, 10)
    floor = exact.numerator // exact.denominator
    expected = {
        "floor": floor,
        "ceil": floor if exact == floor else floor + 1,
        "nearest": floor + 1 if exact - floor >= Fraction(1, 2) else floor,
    }[rounding]
    amount, multiplier = engine.boosted(base, [t / 10 for t in tenths], rounding)
    assert amount == expected
    assert multiplier == pytest.approx(float(exact / base))


@pytest.mark.parametrize(
    "roundings, expected",
    [
        ([], "floor"),
        (["floor"], "floor"),
        (["nearest"], "nearest"),
        (["ceil"], "ceil"),
        (["nearest", "floor"], "nearest"),
        (["floor", "ceil", "nearest"], "ceil"),
        (["unknown"], "floor"),
    ],
)
def test_friendliest_rounding_wins(roundings, expected):
    assert engine.strictest_rounding(roundings) == expected


# --- caps --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, balance, earned_today, daily_cap, max_balance, expected",
    [
        (10, 0, 0, None, None, 10),  # no limits
        (10, 0, 95, 100, None, 5),  # only 100 - 95 = 5 left today
        (10, 0, 90, 100, None, 10),  # exactly fits the cap
        (10, 0, 100, 100, None, 0),  # cap reached
        (10, 0, 120, 100, None, 0),  # cap passed (e.g. lowered): nothing, never negative
        (1, 0, 100, 100, None, 0),
        (10, 0, 0, 0, None, 0),  # a cap of 0 means nothing, not "no cap"
        (10, 495, 0, None, 500, 5),  # ceiling: 500 - 495 = 5 left
        (10, 490, 0, None, 500, 10),
        (10, 500, 0, None, 500, 0),
        (10, 510, 0, None, 500, 0),  # over the ceiling already: nothing, never negative
        (1, 500, 0, None, 500, 0),
        (10, 497, 95, 100, 500, 3),  # both: 5 left today, then 3 left under the ceiling
        (10, 400, 97, 100, 500, 3),  # both: 3 left today, ceiling far
        (-5, 600, 200, 100, 500, -5),  # penalties are never trimmed
        (0, 0, 0, 100, 500, 0),
    ],
)
def test_apply_limits(amount, balance, earned_today, daily_cap, max_balance, expected):
    assert engine.apply_limits(amount, balance, earned_today, daily_cap, max_balance) == expected


@dataclass
class Boost:
    multiplier: float
    rounding: str = "floor"


def test_award_without_boosts_or_limits():
    assert engine.award(10, [], 0, 0, None, None) == (10, 1.0)


def test_award_boosts_with_the_friendliest_rounding():
    # 5 x 0.5 x 3 = 7.5; one boost says ceil, so 8.
    assert engine.award(5, [Boost(0.5, "floor"), Boost(3, "ceil")], 0, 0, None, None) == (8, 1.5)
    assert engine.award(5, [Boost(0.5, "floor"), Boost(3, "floor")], 0, 0, None, None) == (7, 1.5)


def test_award_boosts_a_single_point():
    assert engine.award(1, [Boost(2.0)], 0, 0, None, None) == (2, 2.0)


def test_award_trims_the_boosted_amount_to_the_limits():
    # 10 x 2 = 20, but only 100 - 88 = 12 left today.
    assert engine.award(10, [Boost(2.0)], 0, 88, 100, None) == (12, 2.0)
    # 20, but only 1000 - 985 = 15 left under the ceiling.
    assert engine.award(10, [Boost(2.0)], 985, 0, None, 1000) == (15, 2.0)


def test_award_limits_a_single_point():
    assert engine.award(1, [], 0, 100, 100, None) == (0, 1.0)


def test_award_without_limits_ignores_caps():
    assert engine.award(10, [Boost(2.0)], 995, 95, 100, 1000, limits=False) == (20, 2.0)


def test_award_never_boosts_or_trims_penalties():
    assert engine.award(-10, [Boost(2.0, "ceil")], 0, 500, 100, 50) == (-10, 1.0)
    assert engine.award(-10, [Boost(2.0)], 0, 500, 100, 50, limits=False) == (-10, 1.0)


# --- levels ------------------------------------------------------------------------------------------


@dataclass
class Level:
    id: int
    key: str
    name: str
    threshold: int
    badge: Optional[str] = None


BRONZE = Level(1, "bronze", "Bronze", 0, "b.png")
SILVER = Level(2, "silver", "Silver", 500, "s.png")
GOLD = Level(3, "gold", "Gold", 2000)
LEVELS = [GOLD, BRONZE, SILVER]  # deliberately not in threshold order


@pytest.mark.parametrize(
    "balance, expected",
    [(0, BRONZE), (499, BRONZE), (500, SILVER), (1999, SILVER), (2000, GOLD), (10**6, GOLD)],
)
def test_level_is_the_highest_threshold_reached(balance, expected):
    """Bronze at 0 XP, Silver at 500 XP, Gold at 2,000 XP (trophy-blog's example)."""
    assert engine.level_for(LEVELS, balance) is expected


def test_no_level_below_the_first_threshold():
    assert engine.level_for([SILVER, GOLD], 499) is None
    assert engine.level_for([], 100) is None


def test_level_json_shows_key_name_threshold_badge_and_no_id():
    assert engine.level_json(SILVER) == {"key": "silver", "name": "Silver", "threshold": 500, "badge": "s.png"}
    assert engine.level_json(None) is None


def test_level_changed_up():
    payload = engine.level_changed_payload("xp", LEVELS, BRONZE.id, SILVER)
    silver = {"key": "silver", "name": "Silver", "threshold": 500, "badge": "s.png"}
    assert payload == {
        "system": "xp",
        "previous_level": {"key": "bronze", "name": "Bronze", "threshold": 0, "badge": "b.png"},
        "new_level": silver,
        "level": silver,
        "direction": "up",
    }


def test_level_changed_down():
    payload = engine.level_changed_payload("xp", LEVELS, GOLD.id, SILVER)
    assert payload["previous_level"]["key"] == "gold"
    assert payload["new_level"]["key"] == "silver"
    assert payload["direction"] == "down"


def test_level_changed_from_no_level_is_up():
    payload = engine.level_changed_payload("xp", LEVELS, None, BRONZE)
    assert payload["previous_level"] is None
    assert payload["new_level"]["key"] == "bronze"
    assert payload["direction"] == "up"


def test_level_changed_to_no_level_is_down():
    # e.g. a penalty takes the balance below the first threshold of [SILVER, GOLD].
    payload = engine.level_changed_payload("xp", [SILVER, GOLD], SILVER.id, None)
    assert payload["previous_level"]["key"] == "silver"
    assert payload["new_level"] is None and payload["level"] is None
    assert payload["direction"] == "down"


def test_level_changed_previous_level_that_no_longer_exists_counts_as_none():
    payload = engine.level_changed_payload("xp", LEVELS, 99, SILVER)
    assert payload["previous_level"] is None
    assert payload["direction"] == "up"


# --- streak triggers ---------------------------------------------------------------------------------


@dataclass
class Trigger:
    type: str
    points: int
    streak_length: Optional[int] = None
    times_length: bool = False


def test_streak_milestone_fires_at_exactly_its_length():
    week = Trigger("streak", 50, streak_length=7)
    assert engine.streak_triggers([week], 7) == [(week, 50)]
    assert engine.streak_triggers([week], 6) == []
    assert engine.streak_triggers([week], 8) == []


def test_streak_day_fires_every_day_optionally_times_the_length():
    flat, scaled = Trigger("streak_day", 5), Trigger("streak_day", 2, times_length=True)
    assert engine.streak_triggers([flat, scaled], 1) == [(flat, 5), (scaled, 2)]
    assert engine.streak_triggers([flat, scaled], 4) == [(flat, 5), (scaled, 8)]  # 2 x 4


def test_streak_triggers_milestones_first_other_types_ignored():
    day = Trigger("streak_day", 5)
    week = Trigger("streak", 50, streak_length=7)
    other = Trigger("metric", 99, streak_length=7)
    assert engine.streak_triggers([day, other, week], 7) == [(week, 50), (day, 5)]
    assert engine.streak_triggers([day, other, week], 3) == [(day, 5)]
