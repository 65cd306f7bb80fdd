"""Property tests: the streak engine against a plain reference model, over random zones and dates."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from gamify.engine import calendar as cal
from gamify.engine import streaks as engine
from tests.hypo import examples

ZONES = [
    "UTC",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "America/Santiago",
    "Asia/Tehran",
    "Africa/Casablanca",
]

instants = st.lists(st.integers(min_value=0, max_value=120 * 24 * 60), min_size=1, max_size=40).map(
    lambda mins: [datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=m) for m in sorted(mins)]
)


def reference_index(day: date, frequency: str) -> int:
    """Number the periods consecutively with plain date arithmetic (not the calendar module under test):
    days by ordinal; ISO weeks by (ordinal - 1) // 7, as date(1, 1, 1) (ordinal 1) is a Monday; months by
    year * 12 + month."""
    if frequency == "daily":
        return day.toordinal()
    if frequency == "weekly":
        return (day.toordinal() - 1) // 7
    return day.year * 12 + day.month - 1


def reference_start(day: date, frequency: str) -> date:
    i = reference_index(day, frequency)
    if frequency == "daily":
        return date.fromordinal(i)
    if frequency == "weekly":
        return date.fromordinal(i * 7 + 1)
    return date(i // 12, i % 12 + 1, 1)


def reference_length(days: list[date], frequency: str) -> int:
    """Length of the run of consecutive periods ending at the last active period."""
    periods = sorted({reference_index(d, frequency) for d in days})
    length = 1
    for a, b in zip(periods, periods[1:]):
        length = length + 1 if b == a + 1 else 1
    return length


def local_day(t: datetime, tz: str) -> date:
    return t.astimezone(ZoneInfo(tz)).date()


def test_reference_model_on_hand_picked_dates():
    # 2025-12-29 is a Monday and 2026-01-04 a Sunday: one ISO week across the new year.
    assert reference_start(date(2026, 1, 4), "weekly") == date(2025, 12, 29)
    assert reference_start(date(2026, 1, 5), "weekly") == date(2026, 1, 5)
    assert reference_start(date(2024, 2, 29), "monthly") == date(2024, 2, 1)
    assert reference_length([date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 2)], "daily") == 3
    assert reference_length([date(2025, 12, 28), date(2025, 12, 29), date(2026, 1, 5)], "weekly") == 3
    assert reference_length([date(2025, 12, 1), date(2026, 2, 1)], "monthly") == 1
    assert reference_length([date(2025, 12, 31), date(2026, 1, 1)], "monthly") == 2


@settings(max_examples=examples(200), deadline=None)
@given(tz=st.sampled_from(ZONES), times=instants, frequency=st.sampled_from(["daily", "weekly", "monthly"]))
def test_streak_matches_reference_model(tz, times, frequency):
    rules = engine.StreakRules(frequency=frequency, requirements={"x": 1})
    state = engine.StreakState()
    days = []
    for t in times:
        day = local_day(t, tz)
        assert cal.local_date(t, tz) == day
        days.append(day)
        state = engine.record_activity(rules, state, day, "x", 1).state
        assert state.length == reference_length(days, frequency)
        assert 0 < state.length <= state.longest
        assert state.last_extended == reference_start(day, frequency)


@settings(max_examples=examples(200), deadline=None)
@given(tz=st.sampled_from(ZONES), times=instants, freezes=st.integers(0, 3))
def test_freezes_only_delay_breaking_and_are_never_negative(tz, times, freezes):
    rules = engine.StreakRules(requirements={"x": 1}, freeze_max=3)
    state = engine.StreakState(freezes=freezes)
    for t in times:
        day = cal.local_date(t, tz)
        before = state.length
        change = engine.record_activity(rules, state, day, "x", 1)
        state = change.state
        assert state.freezes >= 0
        assert len(change.freezes_consumed) <= freezes
        if not change.broken and before:
            assert state.length >= before
        # Settling again on the same day changes nothing.
        assert not engine.settle(rules, state, day).periods


@settings(max_examples=examples(100), deadline=None)
@given(tz=st.sampled_from(ZONES), d=st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31)))
def test_local_midnights_are_ordered_and_days_last_about_24h(tz, d):
    a = cal.local_midnight_utc(d, tz)
    b = cal.local_midnight_utc(d + timedelta(days=1), tz)
    assert timedelta(hours=22) <= b - a <= timedelta(hours=26)
    assert cal.local_date(a + timedelta(minutes=1), tz) == d
