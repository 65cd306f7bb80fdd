"""Which achievements an event unlocks (pure engine: definitions are plain objects, no database).

Rules (trophy-blog, "Achievements" and backfill): metric achievements unlock when the total reaches
the threshold; with attribute filters only matching events count, in a progress value of their own;
streak achievements unlock when the extended streak reaches their length; composites unlock once
every prerequisite is held and may chain; tiers unlock lowest threshold first ("backfill them in
ascending order"); rarity is the percentage of players holding an achievement.
"""

from dataclasses import dataclass, field
from typing import Optional

import pytest

from gamify.engine.achievements import composites_unlocked, evaluate, rarity_pct


@dataclass
class Ach:
    id: int
    trigger: str = "metric"
    threshold: Optional[float] = None
    streak_length: Optional[int] = None
    prerequisite_ids: list = field(default_factory=list)
    attribute_filters: Optional[dict] = None


def metric(id, threshold, filters=None):
    return Ach(id, "metric", threshold=threshold, attribute_filters=filters)


def streak(id, length, filters=None):
    return Ach(id, "streak", streak_length=length, attribute_filters=filters)


def composite(id, prereqs, filters=None):
    return Ach(id, "composite", prerequisite_ids=list(prereqs), attribute_filters=filters)


def run(
    metrics=(),
    streaks=(),
    composites=(),
    done=(),
    progress=None,
    value=1.0,
    new_total=0.0,
    streak_length=None,
    attributes=None,
):
    return evaluate(
        metric_achievements=list(metrics),
        streak_achievements=list(streaks),
        composites=list(composites),
        done=set(done),
        progress=dict(progress or {}),
        value=value,
        new_total=new_total,
        streak_length=streak_length,
        attributes=attributes if attributes is not None else {},
    )


def ids(outcome):
    return [a.id for a in outcome.unlocked]


# --- metric thresholds -------------------------------------------------------------------------------


@pytest.mark.parametrize("new_total, unlocked", [(99.0, []), (100.0, [1]), (100.5, [1])])
def test_metric_unlocks_when_total_reaches_threshold(new_total, unlocked):
    """Reaching counts: exactly 100 of a 100 threshold unlocks, 99 does not."""
    assert ids(run(metrics=[metric(1, 100)], new_total=new_total)) == unlocked


def test_nothing_to_evaluate_gives_an_empty_outcome():
    out = run(new_total=1000)
    assert out.unlocked == [] and out.progress == {}


def test_tiers_unlock_lowest_threshold_first_whatever_the_definition_order():
    # Bronze 10, Silver 50, Gold 100 given out of order; a total of 100 reaches all three.
    gold, bronze, silver = metric(3, 100), metric(1, 10), metric(2, 50)
    assert ids(run(metrics=[gold, bronze, silver], new_total=100)) == [1, 2, 3]
    # 60 reaches bronze and silver only.
    assert ids(run(metrics=[gold, bronze, silver], new_total=60)) == [1, 2]


def test_held_achievements_do_not_unlock_again_and_the_rest_still_do():
    # Bronze (first in threshold order) is already held: it is skipped, silver still unlocks.
    out = run(metrics=[metric(1, 10), metric(2, 50)], done={1}, new_total=60)
    assert ids(out) == [2]


def test_done_is_not_modified():
    done = {7}
    evaluate(
        metric_achievements=[metric(1, 10)],
        streak_achievements=[],
        composites=[composite(9, [1, 7])],
        done=done,
        progress={},
        value=1,
        new_total=10,
        streak_length=None,
        attributes={},
    )
    assert done == {7}


def test_unfiltered_metric_records_no_progress():
    """Unfiltered achievements read the metric total; only filtered ones keep their own progress."""
    assert run(metrics=[metric(1, 100)], value=5, new_total=50).progress == {}


# --- attribute filters --------------------------------------------------------------------------------


def test_filtered_metric_counts_only_matching_events_in_its_own_progress():
    """subject:physics: the metric total (500) does not matter, only the physics progress does."""
    physics = metric(1, 10, {"subject": "physics"})
    out = run(metrics=[physics], progress={1: 4.0}, value=3.0, new_total=500, attributes={"subject": "physics"})
    assert out.progress == {1: 7.0}  # 4 + 3
    assert ids(out) == []


@pytest.mark.parametrize("before, value, unlocked", [(7.0, 2.0, False), (7.0, 3.0, True), (7.0, 4.0, True)])
def test_filtered_metric_unlocks_when_its_progress_reaches_the_threshold(before, value, unlocked):
    # 7 + 2 = 9 < 10; 7 + 3 = 10 reaches it exactly; 7 + 4 = 11 passes it.
    physics = metric(1, 10, {"subject": "physics"})
    out = run(metrics=[physics], progress={1: before}, value=value, new_total=0, attributes={"subject": "physics"})
    assert out.progress == {1: before + value}
    assert ids(out) == ([1] if unlocked else [])


@pytest.mark.parametrize("progress", [{}, {1: None}, {2: 50.0}])
def test_filtered_progress_starts_at_zero(progress):
    # No progress yet (missing, null, or only another achievement's): 0 + 6 = 6.
    physics = metric(1, 10, {"subject": "physics"})
    out = run(metrics=[physics], progress=progress, value=6.0, attributes={"subject": "physics"})
    assert out.progress == {1: 6.0}
    assert ids(out) == []


def test_non_matching_event_neither_unlocks_nor_counts():
    physics = metric(1, 10, {"subject": "physics"})
    out = run(metrics=[physics], progress={1: 9.0}, value=5.0, new_total=500, attributes={"subject": "history"})
    assert out.unlocked == [] and out.progress == {}


def test_unfiltered_metric_unlocks_whatever_the_attributes():
    assert ids(run(metrics=[metric(1, 10)], new_total=10, attributes={"subject": "history"})) == [1]


def test_filtered_achievement_after_a_non_matching_one_is_still_evaluated():
    physics, history = metric(1, 5, {"subject": "physics"}), metric(2, 10, {"subject": "history"})
    out = run(metrics=[physics, history], value=12.0, attributes={"subject": "history"})
    assert ids(out) == [2]
    assert out.progress == {2: 12.0}


# --- streaks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("length, unlocked", [(6, []), (7, [1]), (8, [1])])
def test_streak_unlocks_when_length_reached(length, unlocked):
    assert ids(run(streaks=[streak(1, 7)], streak_length=length)) == unlocked


@pytest.mark.parametrize("length", [None, 0])
def test_streaks_only_count_when_the_event_extended_the_streak(length):
    assert ids(run(streaks=[streak(1, 1)], streak_length=length)) == []


def test_streak_milestones_unlock_shortest_first_after_metric_achievements():
    # 30-day, 3-day and 7-day given out of order; a 30-day streak and a total of 5 reach all of them
    # and the 5-threshold metric achievement, which comes before the streak ones.
    out = run(
        metrics=[metric(10, 5)],
        streaks=[streak(30, 30), streak(3, 3), streak(7, 7)],
        new_total=5,
        streak_length=30,
    )
    assert ids(out) == [10, 3, 7, 30]


def test_streak_achievement_with_attribute_filter():
    premium = streak(1, 3, {"plan": "premium"})
    assert ids(run(streaks=[premium], streak_length=3, attributes={"plan": "premium"})) == [1]
    assert ids(run(streaks=[premium], streak_length=3, attributes={"plan": "free"})) == []


def test_held_streak_achievement_is_skipped():
    assert ids(run(streaks=[streak(1, 3), streak(2, 5)], done={1}, streak_length=5)) == [2]


# --- composites --------------------------------------------------------------------------------------


def test_composite_unlocks_when_the_last_prerequisite_unlocks():
    # Prerequisite 1 was held before; 2 unlocks now; the composite needs both.
    out = run(metrics=[metric(2, 10)], composites=[composite(9, [1, 2])], done={1}, new_total=10)
    assert ids(out) == [2, 9]


def test_composite_waits_for_every_prerequisite():
    out = run(metrics=[metric(2, 10)], composites=[composite(9, [1, 2])], new_total=10)
    assert ids(out) == [2]


def test_composites_are_only_evaluated_when_something_unlocked():
    """Prerequisites all held but nothing new in this event: composites are not looked at."""
    out = run(metrics=[metric(2, 10)], composites=[composite(9, [1])], done={1}, new_total=5)
    assert ids(out) == []


def test_composite_unlocked_by_a_streak_achievement():
    out = run(streaks=[streak(1, 7)], composites=[composite(9, [1])], streak_length=7)
    assert ids(out) == [1, 9]


def test_composites_chain_whatever_their_order():
    # 9 needs 8, 8 needs 1: listed 9 first, so 8 unlocks in the first pass and 9 in the second.
    out = run(metrics=[metric(1, 1)], composites=[composite(9, [8]), composite(8, [1])], new_total=1)
    assert ids(out) == [1, 8, 9]


def test_composite_with_attribute_filter():
    comp = composite(9, [1], {"plan": "premium"})
    assert ids(run(metrics=[metric(1, 1)], composites=[comp], new_total=1, attributes={"plan": "premium"})) == [1, 9]
    assert ids(run(metrics=[metric(1, 1)], composites=[comp], new_total=1, attributes={"plan": "free"})) == [1]


def test_composites_unlocked_directly():
    held = {1, 2}
    ready, waiting, empty, owned = composite(9, [1, 2]), composite(8, [1, 3]), composite(7, []), composite(2, [1])
    # Exactly the held set as prerequisites suffices; one missing, none at all, or already held do not.
    assert composites_unlocked([waiting, empty, owned, ready], held, {}) == [ready]
    assert held == {1, 2, 9}  # held grows with what unlocks


def test_composite_without_prerequisites_never_unlocks():
    assert composites_unlocked([Ach(9, "composite", prerequisite_ids=None)], {1}, {}) == []


def test_composites_unlocked_chains_in_later_passes():
    # 7 needs 8, 8 needs 9, 9 needs 1: three passes, unlock order 9, 8, 7.
    chain = [composite(7, [8]), composite(8, [9]), composite(9, [1])]
    assert [a.id for a in composites_unlocked(chain, {1}, {})] == [9, 8, 7]


def test_composites_unlocked_skip_non_matching_attributes():
    comp = composite(9, [1], {"plan": "premium"})
    assert composites_unlocked([comp], {1}, {"plan": "free"}) == []
    assert composites_unlocked([comp], {1}, {"plan": "premium"}) == [comp]


# --- rarity ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "holders, players, expected",
    [
        (1, 4, 25.0),  # 1 * 100 / 4
        (3, 3, 100.0),
        (0, 10, 0.0),
        (1, 3, 100 / 3),  # 33.33...
        (5, 0, 0.0),  # no players: 0, not a division by zero
    ],
)
def test_rarity_is_the_percentage_of_players_holding_it(holders, players, expected):
    assert rarity_pct(holders, players) == pytest.approx(expected)
