"""Streak pauses (pure rules): a paused period neither extends nor breaks the streak and uses no freeze;
expiry and risk look past paused periods. Hand-picked cases first, then the engine against a plain
reference model over random activity and pauses.

Dates: 2026-03-10 is a Tuesday; its ISO week starts Monday 2026-03-09."""

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from gamify.engine import calendar as cal
from gamify.engine import streaks as s
from gamify.engine.streaks import StreakRules, StreakState
from tests.hypo import examples
from tests.unit.test_streak_properties import reference_index

D = date(2026, 3, 10)  # Tuesday
DAY = timedelta(days=1)
ONE = StreakRules(requirements={"x": 1})


def alive(length=3, last=D - DAY, **kw) -> StreakState:
    kw.setdefault("started_on", last - (length - 1) * DAY)
    kw.setdefault("longest", length)
    return StreakState(length=length, last_extended=last, last_covered=last, **kw)


# --- which periods are paused ---


def test_a_period_is_paused_when_a_pause_touches_any_of_its_days():
    pause = [(date(2026, 3, 15), date(2026, 3, 16))]  # Sunday and Monday
    assert s.paused("daily", date(2026, 3, 15), pause)
    assert s.paused("daily", date(2026, 3, 16), pause)
    assert not s.paused("daily", date(2026, 3, 14), pause)
    assert not s.paused("daily", date(2026, 3, 17), pause)
    # Both ISO weeks it touches (Mon 9 - Sun 15 by its last day, Mon 16 - Sun 22 by its first).
    assert s.paused("weekly", date(2026, 3, 9), pause)
    assert s.paused("weekly", date(2026, 3, 16), pause)
    assert not s.paused("weekly", date(2026, 3, 2), pause)
    assert s.paused("monthly", date(2026, 3, 1), pause)
    assert not s.paused("monthly", date(2026, 4, 1), pause)
    assert not s.paused("daily", D, [])


# --- settling ---


def test_missed_paused_days_keep_the_length_and_close_as_paused():
    # Extended up to Monday 9; paused Tuesday 10 to Thursday 12; read on Friday 13.
    change = s.settle(ONE, alive(3, D - DAY), D + 3 * DAY, [(D, D + 2 * DAY)])
    assert [(p.period_start, p.length, p.outcome) for p in change.periods] == [
        (D, 3, "paused"),
        (D + DAY, 3, "paused"),
        (D + 2 * DAY, 3, "paused"),
    ]
    assert change.state.length == 3 and not change.broken
    assert change.state.last_covered == D + 2 * DAY
    # Friday is still open: activity on it extends the streak to 4.
    after = s.record_activity(ONE, change.state, D + 3 * DAY, "x", 1)
    assert after.extended and after.state.length == 4


def test_a_paused_period_uses_no_freeze():
    change = s.settle(ONE, alive(3, D - DAY, freezes=2), D + 2 * DAY, [(D, D)])
    # Tuesday paused, Wednesday missed: the freeze goes to Wednesday only.
    assert [(p.period_start, p.outcome) for p in change.periods] == [(D, "paused"), (D + DAY, "frozen")]
    assert change.freezes_consumed == [D + DAY]
    assert change.state.freezes == 1 and change.state.length == 3


def test_the_first_unpaused_missed_period_still_breaks():
    change = s.settle(ONE, alive(5, D - DAY), D + 3 * DAY, [(D, D)])
    assert [(p.period_start, p.outcome) for p in change.periods] == [(D, "paused"), (D + DAY, "broken")]
    assert change.broken and change.lost_length == 5 and change.state.length == 0


# --- activity inside a pause ---


def test_activity_on_a_paused_day_extends_nothing_but_is_counted():
    change = s.record_activity(ONE, alive(3, D - DAY), D, "x", 1, [(D, D + DAY)])
    assert not change.extended and change.state.length == 3 and change.periods == []
    assert change.state.progress == {"x": 1} and change.state.progress_period == D
    # The pause lifted the same day: the next event extends (progress 2 >= 1).
    lifted = s.record_activity(ONE, change.state, D, "x", 1, [])
    assert lifted.extended and lifted.state.length == 4


def test_a_paused_period_starts_no_streak():
    change = s.record_activity(ONE, StreakState(), D, "x", 5, [(D, D)])
    assert change.state.length == 0 and not change.extended


def test_a_period_extended_before_the_pause_stays_extended():
    state = s.record_activity(ONE, alive(3, D - DAY), D, "x", 1).state  # Tuesday extended: 4
    change = s.settle(ONE, state, D + 2 * DAY, [(D, D + DAY)])  # then Tuesday-Wednesday paused
    assert [(p.period_start, p.outcome) for p in change.periods] == [(D + DAY, "paused")]
    assert change.state.length == 4


def test_weekly_a_week_touched_by_a_pause_is_paused_as_a_whole():
    weekly = StreakRules(frequency="weekly", requirements={"x": 1})
    prev_week = date(2026, 3, 2)
    state = alive(2, prev_week, started_on=date(2026, 2, 23))
    pause = [(date(2026, 3, 13), date(2026, 3, 13))]  # Friday of the week of the 9th
    # Activity on Tuesday of that week: counted, not extended.
    change = s.record_activity(weekly, state, D, "x", 1, pause)
    assert not change.extended and change.state.length == 2
    # Read in the week after: that week closed as paused, length kept, nothing broken.
    later = s.settle(weekly, change.state, date(2026, 3, 17), pause)
    assert [(p.period_start, p.outcome, p.length) for p in later.periods] == [(date(2026, 3, 9), "paused", 2)]
    nxt = s.record_activity(weekly, later.state, date(2026, 3, 17), "x", 1, pause)
    assert nxt.extended and nxt.state.length == 3


# --- expiry and risk ---


def test_expiry_moves_past_the_paused_periods():
    tz = "UTC"
    state = alive(3, D - DAY)
    # Without a pause: lost at the end of Tuesday (midnight starting Wednesday).
    assert s.expires_at(ONE, state, D, tz) == datetime(2026, 3, 11, tzinfo=timezone.utc)
    # Tuesday and Wednesday paused: Thursday is the period that needs activity, lost at Friday 00:00.
    assert s.expires_at(ONE, state, D, tz, [(D, D + DAY)]) == datetime(2026, 3, 13, tzinfo=timezone.utc)
    # A later pause, after the deadline, changes nothing.
    assert s.expires_at(ONE, state, D, tz, [(D + 2 * DAY, D + 3 * DAY)]) == datetime(2026, 3, 11, tzinfo=timezone.utc)


def test_a_paused_current_period_is_not_at_risk():
    state = alive(3, D - DAY)
    assert s.at_risk(ONE, state, D)
    assert not s.at_risk(ONE, state, D, [(D, D)])
    assert s.at_risk(ONE, state, D, [(D + DAY, D + DAY)])


# --- against a reference model ---

days_in = st.integers(min_value=0, max_value=80)
pause_spans = st.lists(
    st.tuples(days_in, st.integers(min_value=0, max_value=9)).map(
        lambda t: (date(2026, 1, 1) + timedelta(days=t[0]), date(2026, 1, 1) + timedelta(days=t[0] + t[1]))
    ),
    max_size=4,
)
activity = st.lists(days_in, min_size=1, max_size=40).map(
    lambda ds: [date(2026, 1, 1) + timedelta(days=d) for d in sorted(ds)]
)


def reference_length(active: list[date], pauses, frequency: str) -> int:
    """The streak after the last active day, counted on plain period numbers: paused periods (touched by
    any pause day) are taken out of the calendar, and activity in them is ignored; the streak is the run
    of consecutive remaining periods with activity that ends at the last remaining period before or at
    the current one, and 0 when that period had no activity."""
    paused = {
        reference_index(first + timedelta(days=i), frequency)
        for first, last in pauses
        for i in range((last - first).days + 1)
    }
    current = reference_index(active[-1], frequency)
    worked = {reference_index(d, frequency) for d in active} - paused
    i = current
    while i in paused:
        i -= 1
    if i < current and i not in worked:
        return 0  # the last period that needed activity before a paused current one was missed
    length = 0
    while i in worked or i in paused:
        if i in worked:
            length += 1
        i -= 1
    return length


def test_reference_model_by_hand():
    d = date(2026, 1, 5)  # a Monday
    assert reference_length([d, d + DAY, d + 3 * DAY], [(d + 2 * DAY, d + 2 * DAY)], "daily") == 3
    assert reference_length([d, d + DAY, d + 3 * DAY], [], "daily") == 1
    assert reference_length([d, d + DAY], [(d + DAY, d + DAY)], "daily") == 1  # Tuesday paused: not counted
    assert reference_length([d, d + 2 * DAY], [(d + 2 * DAY, d + 2 * DAY)], "daily") == 0  # Tuesday missed
    assert reference_length([d, d + 7 * DAY], [(d + 12 * DAY, d + 12 * DAY)], "weekly") == 1  # 2nd week paused
    assert reference_length([d, d + 14 * DAY], [(d + 12 * DAY, d + 12 * DAY)], "weekly") == 2


@settings(max_examples=examples(300), deadline=None)
@given(days=activity, pauses=pause_spans, frequency=st.sampled_from(["daily", "weekly", "monthly"]))
def test_pauses_match_reference_model(days, pauses, frequency):
    rules = StreakRules(frequency=frequency, requirements={"x": 1})
    state = StreakState()
    for i, day in enumerate(days):
        change = s.record_activity(rules, state, day, "x", 1, pauses)
        state = change.state
        assert state.length == reference_length(days[: i + 1], pauses, frequency)
        if change.extended:
            assert not s.paused(frequency, cal.period_start(frequency, day), pauses)
        for p in change.periods:  # a paused period never breaks nor takes a freeze; an unpaused one never "pauses"
            assert (p.outcome == "paused") == (p.outcome != "extended" and s.paused(frequency, p.period_start, pauses))


@settings(max_examples=examples(200), deadline=None)
@given(days=activity, pauses=pause_spans, freezes=st.integers(0, 3))
def test_paused_periods_take_no_freeze(days, pauses, freezes):
    rules = StreakRules(requirements={"x": 1}, freeze_max=3)
    state = StreakState(freezes=freezes)
    for day in days:
        change = s.record_activity(rules, state, day, "x", 1, pauses)
        state = change.state
        assert state.freezes >= 0
        assert not any(s.paused("daily", p, pauses) for p in change.freezes_consumed)
        # Settling again the same day changes nothing.
        assert not s.settle(rules, state, day, pauses).periods
