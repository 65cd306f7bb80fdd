"""Streak rules (pure): settling missed periods, freezes (earned every N periods up to a maximum), requirement
thresholds in "all"/"any" mode, extension and breaking, travel across the date line, expiry and risk.

Dates are hand-picked: 2026-03-10 is a Tuesday, its ISO week starts Monday 2026-03-09; 2026-03-08 is the US
DST start. Periods are the ones of trophy-blog's data model: start, end, length at close, outcome."""

from datetime import date, datetime, timedelta, timezone

import pytest

from gamify.engine import streaks as s
from gamify.engine.streaks import PeriodClosed, StreakRules, StreakState

D = date(2026, 3, 10)  # Tuesday
DAY = timedelta(days=1)
ONE = StreakRules(requirements={"x": 1})


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def alive(length=3, last=D - DAY, **kw) -> StreakState:
    """A streak of `length` periods whose last extended (and covered) period starts on `last`."""
    kw.setdefault("started_on", last - (length - 1) * DAY)
    kw.setdefault("longest", length)
    return StreakState(length=length, last_extended=last, last_covered=last, **kw)


# --- defaults ---


def test_defaults_are_a_daily_any_streak_with_no_freezes():
    r = StreakRules()
    assert (r.frequency, r.mode, r.requirements) == ("daily", "any", {})
    assert (r.freeze_initial, r.freeze_every, r.freeze_max) == (0, None, 0)
    st = StreakState()
    assert (st.length, st.longest, st.freezes, st.periods_since_grant) == (0, 0, 0, 0)
    assert st.started_on is st.last_extended is st.last_covered is st.progress_period is None
    assert st.progress == {}


# --- requirements ---


def test_no_requirements_are_never_met():
    assert s.requirements_met(StreakRules(), {"x": 100}) is False
    assert s.requirements_met(StreakRules(mode="all"), {}) is False


@pytest.mark.parametrize(
    "mode, progress, expected",
    [
        ("any", {}, False),
        ("any", {"a": 2.99}, False),  # just under the threshold of 3
        ("any", {"a": 3}, True),  # exactly the threshold
        ("any", {"b": 1}, True),  # one requirement is enough
        ("any", {"a": 0, "b": 0.5}, False),
        ("any", {"c": 50}, False),  # a metric that is not a requirement counts for nothing
        ("all", {"a": 3}, False),  # b missing
        ("all", {"b": 1}, False),  # a missing
        ("all", {"a": 3, "b": 0.99}, False),
        ("all", {"a": 3, "b": 1}, True),  # both exactly at their thresholds
        ("all", {"a": 10, "b": 10}, True),
    ],
)
def test_requirement_thresholds_in_all_and_any_mode(mode, progress, expected):
    rules = StreakRules(mode=mode, requirements={"a": 3, "b": 1})
    assert s.requirements_met(rules, progress) is expected


def test_a_missing_metric_counts_as_zero():
    # A threshold of 0 is met without any event; a threshold of 1 is not.
    assert s.requirements_met(StreakRules(requirements={"a": 0}), {}) is True
    assert s.requirements_met(StreakRules(requirements={"a": 1}), {}) is False
    assert s.requirements_met(StreakRules(mode="all", requirements={"a": 1}), {}) is False


# --- record_activity: starting, extending, accumulating ---


def test_first_activity_starts_a_streak_of_one():
    st = StreakState()
    change = s.record_activity(ONE, st, D, "x", 1)
    new = change.state
    assert change.extended is True and change.broken is False and change.lost_length == 0
    assert (new.length, new.longest, new.started_on) == (1, 1, D)
    assert new.last_extended == new.last_covered == new.progress_period == D
    assert new.progress == {"x": 1}
    assert change.periods == [PeriodClosed(D, D, 1, "extended")]
    assert change.freezes_consumed == [] and change.freezes_granted == 0
    # The input state is not modified.
    assert st == StreakState()


def test_activity_on_the_next_day_continues_the_streak():
    st = alive(length=3, last=D - DAY, longest=3, progress_period=D - DAY, progress={"x": 1})
    change = s.record_activity(ONE, st, D, "x", 1)
    new = change.state
    assert change.extended and not change.broken
    assert (new.length, new.longest, new.started_on) == (4, 4, D - 3 * DAY)
    assert new.last_extended == new.last_covered == D
    # Yesterday's progress does not carry over into today.
    assert (new.progress_period, new.progress) == (D, {"x": 1})
    assert change.periods == [PeriodClosed(D, D, 4, "extended")]
    assert st.length == 3 and st.progress == {"x": 1} and st.last_covered == D - DAY


def test_longest_is_kept_when_the_current_streak_is_shorter():
    st = alive(length=2, last=D - DAY, longest=10)
    new = s.record_activity(ONE, st, D, "x", 1).state
    assert (new.length, new.longest) == (3, 10)


def test_progress_accumulates_within_a_period_until_the_threshold():
    rules = StreakRules(requirements={"x": 3})
    c1 = s.record_activity(rules, StreakState(), D, "x", 1)
    assert not c1.extended and c1.periods == []
    assert (c1.state.length, c1.state.progress, c1.state.progress_period) == (0, {"x": 1}, D)
    c2 = s.record_activity(rules, c1.state, D, "x", 1.5)
    assert not c2.extended and c2.state.progress == {"x": 2.5}
    c3 = s.record_activity(rules, c2.state, D, "x", 0.5)  # 3.0: exactly the threshold
    assert c3.extended and c3.state.length == 1 and c3.state.progress == {"x": 3.0}
    # More activity in an already extended period adds progress but does not extend again.
    c4 = s.record_activity(rules, c3.state, D, "x", 4)
    assert not c4.extended and c4.periods == []
    assert c4.state.length == 1 and c4.state.progress == {"x": 7.0}


def test_progress_does_not_carry_into_the_next_period():
    rules = StreakRules(requirements={"x": 2})
    st = s.record_activity(rules, StreakState(), D - DAY, "x", 1).state
    change = s.record_activity(rules, st, D, "x", 1)  # 1 yesterday + 1 today is not 2 today
    assert not change.extended
    assert (change.state.progress_period, change.state.progress, change.state.length) == (D, {"x": 1}, 0)


def test_an_event_for_a_metric_that_is_not_a_requirement_changes_nothing():
    st = alive(length=2, last=D - DAY, progress_period=D - DAY, progress={"x": 1})
    change = s.record_activity(ONE, st, D, "y", 5)
    assert not change.extended and change.periods == []
    assert change.state == st


def test_all_mode_needs_every_requirement_in_the_same_period():
    rules = StreakRules(mode="all", requirements={"lessons": 1, "minutes": 10})
    c1 = s.record_activity(rules, StreakState(), D, "lessons", 1)
    assert not c1.extended
    c2 = s.record_activity(rules, c1.state, D, "minutes", 9)
    assert not c2.extended
    c3 = s.record_activity(rules, c2.state, D, "minutes", 1)
    assert c3.extended and c3.state.length == 1
    assert c3.state.progress == {"lessons": 1, "minutes": 10}


def test_any_mode_extends_on_either_requirement():
    rules = StreakRules(mode="any", requirements={"lessons": 1, "minutes": 10})
    assert s.record_activity(rules, StreakState(), D, "minutes", 10).extended
    assert s.record_activity(rules, StreakState(), D, "lessons", 1).extended


def test_a_zero_length_streak_is_not_continued_even_if_yesterday_was_covered():
    st = StreakState(length=0, longest=5, last_covered=D - DAY, last_extended=D - DAY, periods_since_grant=2)
    rules = StreakRules(requirements={"x": 1}, freeze_every=7, freeze_max=2)
    new = s.record_activity(rules, st, D, "x", 1).state
    assert (new.length, new.longest, new.started_on, new.periods_since_grant) == (1, 5, D, 1)


def test_activity_after_a_gap_breaks_then_starts_again_at_one():
    # Last extended two days ago, no freezes: yesterday closes as broken, today starts a new streak.
    st = alive(length=5, last=D - 2 * DAY, longest=7, periods_since_grant=3)
    rules = StreakRules(requirements={"x": 1}, freeze_every=7, freeze_max=2)
    change = s.record_activity(rules, st, D, "x", 1)
    new = change.state
    assert change.broken and change.extended and change.lost_length == 5
    assert change.periods == [PeriodClosed(D - DAY, D - DAY, 0, "broken"), PeriodClosed(D, D, 1, "extended")]
    assert (new.length, new.longest, new.started_on, new.periods_since_grant) == (1, 7, D, 1)


# --- weekly and monthly ---


def test_weekly_streak_continues_from_one_iso_week_to_the_next():
    rules = StreakRules(frequency="weekly", requirements={"x": 1})
    # Sunday 2026-03-08 is in the week of Monday 2026-03-02; Monday 2026-03-09 starts the next week.
    st = s.record_activity(rules, StreakState(), date(2026, 3, 8), "x", 1).state
    assert (st.last_extended, st.started_on) == (date(2026, 3, 2), date(2026, 3, 2))
    change = s.record_activity(rules, st, date(2026, 3, 9), "x", 1)
    assert change.extended and change.state.length == 2
    assert change.periods == [PeriodClosed(date(2026, 3, 9), date(2026, 3, 15), 2, "extended")]
    # A week with no activity (16..22 March) breaks it when the player comes back on 2026-03-25.
    change = s.record_activity(rules, change.state, date(2026, 3, 25), "x", 1)
    assert change.broken and change.lost_length == 2
    assert change.periods == [
        PeriodClosed(date(2026, 3, 16), date(2026, 3, 22), 0, "broken"),
        PeriodClosed(date(2026, 3, 23), date(2026, 3, 29), 1, "extended"),
    ]


def test_monthly_streak_over_a_leap_february():
    rules = StreakRules(frequency="monthly", requirements={"x": 1})
    st = s.record_activity(rules, StreakState(), date(2024, 1, 31), "x", 1).state
    change = s.record_activity(rules, st, date(2024, 2, 29), "x", 1)
    assert change.state.length == 2
    assert change.periods == [PeriodClosed(date(2024, 2, 1), date(2024, 2, 29), 2, "extended")]
    # Nothing in March 2024; April breaks it, March closing as broken.
    change = s.record_activity(rules, change.state, date(2024, 4, 1), "x", 1)
    assert change.broken and change.lost_length == 2
    assert change.periods[0] == PeriodClosed(date(2024, 3, 1), date(2024, 3, 31), 0, "broken")
    assert change.state.length == 1 and change.state.started_on == date(2024, 4, 1)


# --- settle: missed periods, freezes ---


def test_settle_with_nothing_missed_changes_nothing():
    st = alive(length=3, last=D - DAY, freezes=1)
    change = s.settle(ONE, st, D)  # yesterday covered: today is still open
    assert change.periods == [] and not change.broken and change.freezes_consumed == []
    assert change.state == st
    change = s.settle(ONE, alive(length=3, last=D, freezes=1), D)
    assert change.periods == [] and change.state.freezes == 1


def test_settle_returns_a_copy():
    st = alive(length=3, last=D - 3 * DAY, progress={"x": 1}, progress_period=D - 3 * DAY)
    change = s.settle(ONE, st, D)
    change.state.progress["x"] = 99
    assert st.progress == {"x": 1}
    assert st.length == 3 and st.last_covered == D - 3 * DAY


def test_settle_breaks_the_first_missed_period_without_freezes():
    st = alive(length=4, last=D - 3 * DAY, longest=9, periods_since_grant=2)
    change = s.settle(ONE, st, D)
    # D-2 is missed (and D-1 too, but the streak is already gone): one broken period.
    assert change.periods == [PeriodClosed(D - 2 * DAY, D - 2 * DAY, 0, "broken")]
    assert change.broken and change.lost_length == 4 and not change.extended
    new = change.state
    assert (new.length, new.longest, new.started_on, new.periods_since_grant) == (0, 9, None, 0)
    assert new.last_covered == D - 3 * DAY  # the covered history is not rewritten


def test_a_streak_of_one_breaks_too():
    change = s.settle(ONE, alive(length=1, last=D - 2 * DAY), D)
    assert change.broken and change.lost_length == 1 and change.state.length == 0


def test_freezes_cover_missed_days_oldest_first():
    st = alive(length=4, last=D - 3 * DAY, freezes=2)
    change = s.settle(ONE, st, D)
    assert change.periods == [
        PeriodClosed(D - 2 * DAY, D - 2 * DAY, 4, "frozen"),
        PeriodClosed(D - DAY, D - DAY, 4, "frozen"),
    ]
    assert change.freezes_consumed == [D - 2 * DAY, D - DAY]
    assert not change.broken and change.lost_length == 0
    new = change.state
    assert (new.freezes, new.length, new.last_covered, new.last_extended) == (0, 4, D - DAY, D - 3 * DAY)
    # Today is still open: activity today continues the streak (covered yesterday by a freeze).
    after = s.record_activity(ONE, new, D, "x", 1)
    assert after.extended and after.state.length == 5


def test_one_freeze_for_two_missed_days_is_used_then_the_streak_breaks():
    st = alive(length=4, last=D - 3 * DAY, freezes=1)
    change = s.settle(ONE, st, D)
    assert change.periods == [
        PeriodClosed(D - 2 * DAY, D - 2 * DAY, 4, "frozen"),
        PeriodClosed(D - DAY, D - DAY, 0, "broken"),
    ]
    assert change.freezes_consumed == [D - 2 * DAY]
    assert change.broken and change.lost_length == 4
    assert (change.state.freezes, change.state.length) == (0, 0)


def test_unused_freezes_are_kept():
    change = s.settle(ONE, alive(length=2, last=D - 2 * DAY, freezes=3), D)
    assert change.freezes_consumed == [D - DAY] and change.state.freezes == 2


def test_weekly_freeze_covers_a_whole_week():
    rules = StreakRules(frequency="weekly", requirements={"x": 1})
    # Last covered the week of Monday 2026-02-23; today (Tue 2026-03-10) is in the week of 2026-03-09.
    st = alive(length=2, last=date(2026, 2, 23), freezes=1)
    change = s.settle(rules, st, D)
    assert change.periods == [PeriodClosed(date(2026, 3, 2), date(2026, 3, 8), 2, "frozen")]
    assert change.state.last_covered == date(2026, 3, 2)


def test_settle_without_a_live_streak_does_nothing():
    # Length 0 (already broken), or never covered: nothing to close.
    for st in (
        StreakState(length=0, last_covered=D - 5 * DAY, freezes=2),
        StreakState(length=2, last_covered=None, freezes=2),
    ):
        change = s.settle(ONE, st, D)
        assert change.periods == [] and not change.broken and change.state.freezes == 2


# --- earning freezes ---


def test_a_freeze_is_earned_every_n_extended_periods():
    rules = StreakRules(requirements={"x": 1}, freeze_every=3, freeze_max=2)
    st = StreakState()
    granted = []
    for i in range(7):
        change = s.record_activity(rules, st, D + i * DAY, "x", 1)
        st = change.state
        granted.append(change.freezes_granted)
    # Periods 3 and 6 grant one each; the counter restarts after each grant.
    assert granted == [0, 0, 1, 0, 0, 1, 0]
    assert (st.freezes, st.periods_since_grant, st.length) == (2, 1, 7)


def test_no_freeze_beyond_the_maximum():
    rules = StreakRules(requirements={"x": 1}, freeze_every=2, freeze_max=2)
    st = alive(length=5, last=D - DAY, freezes=2, periods_since_grant=1)
    change = s.record_activity(rules, st, D, "x", 1)
    assert change.freezes_granted == 0
    assert (change.state.freezes, change.state.periods_since_grant) == (2, 0)  # the count restarts anyway
    st = alive(length=5, last=D - DAY, freezes=1, periods_since_grant=1)
    change = s.record_activity(rules, st, D, "x", 1)
    assert change.freezes_granted == 1 and change.state.freezes == 2


def test_no_freezes_are_earned_without_an_accumulation_rate():
    rules = StreakRules(requirements={"x": 1}, freeze_every=None, freeze_max=5)
    st = StreakState()
    for i in range(4):
        change = s.record_activity(rules, st, D + i * DAY, "x", 1)
        st = change.state
        assert change.freezes_granted == 0
    assert (st.freezes, st.periods_since_grant) == (0, 0)


def test_a_freeze_every_period():
    rules = StreakRules(requirements={"x": 1}, freeze_every=1, freeze_max=3)
    change = s.record_activity(rules, StreakState(), D, "x", 1)
    assert change.freezes_granted == 1 and change.state.freezes == 1 and change.state.periods_since_grant == 0


def test_progress_without_extension_earns_nothing():
    rules = StreakRules(requirements={"x": 2}, freeze_every=1, freeze_max=3)
    change = s.record_activity(rules, StreakState(), D, "x", 1)
    assert change.freezes_granted == 0 and change.state.periods_since_grant == 0


# --- travel (trophy-blog: the streak follows the player's current zone) ---


def test_travelling_west_counts_activity_in_the_period_already_extended():
    # Extended on 2026-03-11 in Kiritimati (UTC+14); an hour later the player is in Pago Pago (UTC-11) where
    # it is 2026-03-10. The 11th must not be re-opened and the streak must not break.
    st = alive(length=3, last=D + DAY, progress_period=D + DAY, progress={"x": 1})
    change = s.record_activity(ONE, st, D, "x", 2)
    assert not change.extended and not change.broken and change.periods == []
    new = change.state
    assert (new.length, new.last_extended, new.last_covered) == (3, D + DAY, D + DAY)
    assert (new.progress_period, new.progress) == (D + DAY, {"x": 3})


def test_travelling_west_into_a_period_covered_by_a_freeze_records_nothing():
    # The 11th was closed by a freeze (last_covered, but not last_extended); local date is now the 10th.
    st = StreakState(length=3, longest=3, last_extended=D, last_covered=D + DAY, progress_period=D, progress={"x": 1})
    change = s.record_activity(ONE, st, D, "x", 1)
    assert not change.extended and change.periods == []
    assert change.state == st
    # Same on the frozen day itself.
    change = s.record_activity(ONE, st, D + DAY, "x", 1)
    assert not change.extended and change.state == st


# --- expiry and risk ---


def test_expires_at_is_the_end_of_the_next_period_after_an_extension_today():
    # Extended today (D = 2026-03-10): tomorrow must be covered, so the streak is lost when 12 March begins.
    # New York is EDT (UTC-4) after 2026-03-08: 2026-03-12 00:00 EDT = 04:00 UTC.
    st = alive(length=2, last=D)
    assert s.expires_at(ONE, st, D, "America/New_York") == utc(2026, 3, 12, 4, 0)
    assert s.expires_at(ONE, st, D, "UTC") == utc(2026, 3, 12, 0, 0)
    # A streak started today (length 1) expires the same way.
    assert s.expires_at(ONE, alive(length=1, last=D), D, "UTC") == utc(2026, 3, 12, 0, 0)


def test_expires_at_is_the_end_of_today_when_today_is_still_open():
    st = alive(length=2, last=D - DAY)
    assert s.expires_at(ONE, st, D, "UTC") == utc(2026, 3, 11, 0, 0)
    # Across the US DST start: covered 2026-03-07, today the 8th; lost at 2026-03-09 00:00 EDT = 04:00 UTC (on
    # the 8th itself midnight was still EST, 05:00 UTC).
    st = alive(length=2, last=date(2026, 3, 7))
    assert s.expires_at(ONE, st, date(2026, 3, 8), "America/New_York") == utc(2026, 3, 9, 4, 0)


def test_expires_at_of_a_lapsed_unsettled_streak_is_the_end_of_today():
    # Last covered D-3 and not settled yet: it already lapsed; the answer is not in the past (D-1's end) but
    # the end of today, the earliest moment a settle would break it in any case.
    st = alive(length=2, last=D - 3 * DAY)
    assert s.expires_at(ONE, st, D, "UTC") == utc(2026, 3, 11, 0, 0)


def test_expires_at_weekly_and_monthly():
    weekly = StreakRules(frequency="weekly", requirements={"x": 1})
    # Covered the week of Monday 2026-03-02, today Tue 2026-03-10: lost at Monday 2026-03-16 00:00 London (GMT).
    assert s.expires_at(weekly, alive(length=2, last=date(2026, 3, 2)), D, "Europe/London") == utc(2026, 3, 16, 0, 0)
    # Covered this week: lost when the week after next begins, Monday 2026-03-23.
    assert s.expires_at(weekly, alive(length=2, last=date(2026, 3, 9)), D, "UTC") == utc(2026, 3, 23, 0, 0)
    monthly = StreakRules(frequency="monthly", requirements={"x": 1})
    # Covered February 2024, today 2024-03-15: lost when April begins; Sydney is AEDT (UTC+11) until
    # 2024-04-07, so 2024-04-01 00:00 local = 2024-03-31 13:00 UTC.
    st = alive(length=2, last=date(2024, 2, 1))
    assert s.expires_at(monthly, st, date(2024, 3, 15), "Australia/Sydney") == utc(2024, 3, 31, 13, 0)


def test_no_expiry_without_a_live_streak():
    assert s.expires_at(ONE, StreakState(), D, "UTC") is None
    assert s.expires_at(ONE, StreakState(length=0, last_covered=D), D, "UTC") is None
    assert s.expires_at(ONE, StreakState(length=2, last_covered=None), D, "UTC") is None


def test_at_risk_while_the_current_period_still_needs_activity():
    assert s.at_risk(ONE, alive(length=2, last=D - DAY), D) is True
    assert s.at_risk(ONE, alive(length=1, last=D - DAY), D) is True
    assert s.at_risk(ONE, alive(length=2, last=D), D) is False
    assert s.at_risk(ONE, alive(length=2, last=D + DAY), D) is False  # travelled west after extending
    assert s.at_risk(ONE, StreakState(length=0, last_covered=D - DAY), D) is False
    assert s.at_risk(ONE, StreakState(length=2, last_covered=None), D) is False
    weekly = StreakRules(frequency="weekly", requirements={"x": 1})
    # Covered the week of Monday 2026-03-09: on Sunday the 15th it is safe, on Monday the 16th at risk.
    assert s.at_risk(weekly, alive(length=2, last=date(2026, 3, 9)), date(2026, 3, 15)) is False
    assert s.at_risk(weekly, alive(length=2, last=date(2026, 3, 9)), date(2026, 3, 16)) is True
