"""Local-calendar arithmetic (pure): IANA zones only, period edges, month lengths, leap years, DST midnights.

Every expected value is a hand calculation written next to it (weekday facts: 2026-01-01 is a Thursday,
2026-03-08 and 2026-11-01 are Sundays, 2026-09-05 is a Saturday)."""

import os
import time as clock
from datetime import date, datetime, time, timezone

import pytest

from gamify.engine import calendar as cal


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# --- zones: IANA names only (trophy-blog: "the timezone parameter must be an IANA identifier ... not a
# UTC offset string like +05:30") ---


@pytest.mark.parametrize("name", ["Europe/London", "America/New_York", "Asia/Kathmandu", "UTC"])
def test_zone_accepts_iana_names(name):
    assert cal.zone(name).key == name


@pytest.mark.parametrize("name", ["+05:30", "-03:00", "UTC+5", "UTC-3", "GMT+1", "GMT-10", "Europe/../etc/passwd"])
def test_zone_refuses_offsets_with_a_message_that_says_so(name):
    with pytest.raises(cal.InvalidTimezone, match="is an offset, not an IANA timezone such as 'Europe/London'"):
        cal.zone(name)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "Europe/Londn", "europe/london"])
def test_zone_refuses_unknown_names_and_suggests_an_iana_name(name):
    with pytest.raises(cal.InvalidTimezone, match="use an IANA name such as 'Europe/London'"):
        cal.zone(name)


@pytest.mark.parametrize("name", ["", None, 7, "A" * 65, "Europe/" + "x" * 58])
def test_zone_refuses_empty_non_string_and_overlong_names(name):
    with pytest.raises(cal.InvalidTimezone, match="unknown timezone"):
        cal.zone(name)


@pytest.mark.parametrize("name", ["localtime", "Factory", "posixrules"])
def test_zone_refuses_database_files_that_are_not_places(name):
    # "localtime" would silently be whatever the server's zone is; "Factory" has no offset at all.
    with pytest.raises(cal.InvalidTimezone):
        cal.zone(name)


def test_invalid_timezone_is_a_value_error():
    with pytest.raises(ValueError):
        cal.zone("+05:30")


def test_all_timezones_lists_places_sorted_without_etc_or_bare_names():
    zones = cal.all_timezones()
    assert zones == sorted(zones)
    assert {"Europe/London", "America/New_York", "Australia/Lord_Howe"} <= set(zones)
    # Bare names and the Etc/ fixed offsets (Etc/GMT+5 is UTC-5, a classic trap) are not offered.
    assert not {"UTC", "Factory", "localtime", "Etc/GMT+5", "Etc/UTC"} & set(zones)
    assert all("/" in z and not z.startswith(("Etc/", "SystemV/")) for z in zones)


# --- local dates ---


@pytest.mark.parametrize(
    "moment, tz, expected",
    [
        # New York is UTC-5 in January: 03:00 UTC on 1 Jan is 22:00 on 31 Dec.
        (utc(2026, 1, 1, 3, 0), "America/New_York", date(2025, 12, 31)),
        # Sydney is UTC+11 in January (AEDT): 13:55 UTC is 00:55 the next day. 12:55 UTC is 23:55, still the 1st.
        (utc(2026, 1, 1, 13, 55), "Australia/Sydney", date(2026, 1, 2)),
        (utc(2026, 1, 1, 12, 55), "Australia/Sydney", date(2026, 1, 1)),
        # Kathmandu is UTC+05:45: 18:15 UTC is exactly local midnight of the next day, 18:14 one minute before.
        (utc(2026, 6, 1, 18, 15), "Asia/Kathmandu", date(2026, 6, 2)),
        (utc(2026, 6, 1, 18, 14), "Asia/Kathmandu", date(2026, 6, 1)),
        # Fall back in New York, 2026-11-01: 01:30 local happens twice, at 05:30 UTC (EDT) and 06:30 UTC (EST);
        # both are on 1 November. 03:59 UTC is 23:59 EDT on 31 October.
        (utc(2026, 11, 1, 5, 30), "America/New_York", date(2026, 11, 1)),
        (utc(2026, 11, 1, 6, 30), "America/New_York", date(2026, 11, 1)),
        (utc(2026, 11, 1, 3, 59), "America/New_York", date(2026, 10, 31)),
    ],
)
def test_local_date(moment, tz, expected):
    assert cal.local_date(moment, tz) == expected


def test_local_date_refuses_offsets():
    with pytest.raises(cal.InvalidTimezone):
        cal.local_date(utc(2026, 1, 1), "+05:30")


# --- periods ---


@pytest.mark.parametrize(
    "frequency, day, start, end, next_start, previous_start",
    [
        ("daily", date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 2), date(2025, 12, 31)),
        ("daily", date(2024, 2, 28), date(2024, 2, 28), date(2024, 2, 28), date(2024, 2, 29), date(2024, 2, 27)),
        ("daily", date(2024, 2, 29), date(2024, 2, 29), date(2024, 2, 29), date(2024, 3, 1), date(2024, 2, 28)),
        # ISO weeks run Monday..Sunday. 2026-01-01 is a Thursday, so its week starts Monday 2025-12-29.
        ("weekly", date(2026, 1, 1), date(2025, 12, 29), date(2026, 1, 4), date(2026, 1, 5), date(2025, 12, 22)),
        # The Sunday closing that week, and the Monday opening the next one.
        ("weekly", date(2026, 1, 4), date(2025, 12, 29), date(2026, 1, 4), date(2026, 1, 5), date(2025, 12, 22)),
        ("weekly", date(2026, 1, 5), date(2026, 1, 5), date(2026, 1, 11), date(2026, 1, 12), date(2025, 12, 29)),
        # A leap-day week: 2024-02-29 is a Thursday; Monday 2024-02-26 to Sunday 2024-03-03.
        ("weekly", date(2024, 2, 29), date(2024, 2, 26), date(2024, 3, 3), date(2024, 3, 4), date(2024, 2, 19)),
        # Months of 31, 28, 29 (leap) and 30 days, and the turn of the year.
        ("monthly", date(2026, 1, 31), date(2026, 1, 1), date(2026, 1, 31), date(2026, 2, 1), date(2025, 12, 1)),
        ("monthly", date(2026, 2, 14), date(2026, 2, 1), date(2026, 2, 28), date(2026, 3, 1), date(2026, 1, 1)),
        ("monthly", date(2024, 2, 29), date(2024, 2, 1), date(2024, 2, 29), date(2024, 3, 1), date(2024, 1, 1)),
        ("monthly", date(2026, 4, 1), date(2026, 4, 1), date(2026, 4, 30), date(2026, 5, 1), date(2026, 3, 1)),
        ("monthly", date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31), date(2027, 1, 1), date(2026, 11, 1)),
        ("monthly", date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 31), date(2026, 4, 1), date(2026, 2, 1)),
    ],
)
def test_period_bounds(frequency, day, start, end, next_start, previous_start):
    assert cal.period_start(frequency, day) == start
    assert cal.period_end(frequency, start) == end
    assert cal.next_period_start(frequency, start) == next_start
    assert cal.previous_period_start(frequency, start) == previous_start


def test_every_month_of_a_leap_and_a_common_year_has_its_length():
    lengths = {
        2024: [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],  # 2024 is a leap year (divisible by 4, not by 100)
        2026: [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
    }
    for year, months in lengths.items():
        for month, days in enumerate(months, start=1):
            start = date(year, month, 1)
            assert cal.period_end("monthly", start) == date(year, month, days)
            assert cal.period_start("monthly", date(year, month, days)) == start


@pytest.mark.parametrize("frequency", ["hourly", "Daily", "", "yearly"])
def test_unknown_frequencies_are_refused(frequency):
    with pytest.raises(ValueError, match="unknown frequency"):
        cal.period_start(frequency, date(2026, 1, 1))
    with pytest.raises(ValueError, match="unknown frequency"):
        cal.next_period_start(frequency, date(2026, 1, 1))


def test_frequencies():
    assert cal.FREQUENCIES == ("daily", "weekly", "monthly")


# --- UTC bounds of local days ---


@pytest.mark.parametrize(
    "day, tz, expected",
    [
        (date(2026, 1, 1), "UTC", utc(2026, 1, 1, 0, 0)),
        # 2026-03-08 is the US DST start (02:00 EST -> 03:00 EDT): midnight that day is still EST (UTC-5) = 05:00
        # UTC, midnight the next day is EDT (UTC-4) = 04:00 UTC. The day lasts 23 hours.
        (date(2026, 3, 8), "America/New_York", utc(2026, 3, 8, 5, 0)),
        (date(2026, 3, 9), "America/New_York", utc(2026, 3, 9, 4, 0)),
        # 2026-11-01 is the US DST end: midnight is still EDT (04:00 UTC), the next midnight EST (05:00 UTC): 25 hours.
        (date(2026, 11, 1), "America/New_York", utc(2026, 11, 1, 4, 0)),
        (date(2026, 11, 2), "America/New_York", utc(2026, 11, 2, 5, 0)),
        # EU DST starts 2026-03-29 at 01:00 UTC: London midnight is 00:00 UTC (GMT), next midnight 23:00 UTC (BST).
        (date(2026, 3, 29), "Europe/London", utc(2026, 3, 29, 0, 0)),
        (date(2026, 3, 30), "Europe/London", utc(2026, 3, 29, 23, 0)),
        # Sydney in January is UTC+11: its 2 January starts at 13:00 UTC on the 1st.
        (date(2026, 1, 2), "Australia/Sydney", utc(2026, 1, 1, 13, 0)),
        # Chile moves clocks at midnight: on 2026-09-06 local 00:00 (-04) jumps to 01:00 (-03), so 00:00 does not
        # exist; the day begins at the jump, 04:00 UTC.
        (date(2026, 9, 6), "America/Santiago", utc(2026, 9, 6, 4, 0)),
        # Kathmandu UTC+05:45.
        (date(2026, 6, 2), "Asia/Kathmandu", utc(2026, 6, 1, 18, 15)),
    ],
)
def test_local_midnight_utc(day, tz, expected):
    got = cal.local_midnight_utc(day, tz)
    assert got == expected
    assert got.utcoffset().total_seconds() == 0


def test_local_time_utc():
    # 20:00 in New York in July (EDT, UTC-4) is midnight UTC the next day; in January (EST, UTC-5) 01:00 UTC.
    assert cal.local_time_utc(date(2026, 7, 1), time(20, 0), "America/New_York") == utc(2026, 7, 2, 0, 0)
    assert cal.local_time_utc(date(2026, 1, 1), time(20, 0), "America/New_York") == utc(2026, 1, 2, 1, 0)
    assert cal.local_time_utc(date(2026, 1, 1), time(20, 0), "America/New_York").tzinfo == timezone.utc
    with pytest.raises(cal.InvalidTimezone):
        cal.local_time_utc(date(2026, 1, 1), time(20, 0), "GMT+1")


@pytest.fixture
def server_in_los_angeles():
    """The process's own zone set to America/Los_Angeles (a server not running on UTC)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    clock.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    clock.tzset()


def test_utc_bounds_do_not_depend_on_the_server_zone(server_in_los_angeles):
    # Results are UTC instants with a zero offset whatever the machine's zone (Los Angeles is UTC-8 in January).
    midnight = cal.local_midnight_utc(date(2026, 1, 2), "Australia/Sydney")
    assert midnight.utcoffset().total_seconds() == 0 and midnight.hour == 13
    at = cal.local_time_utc(date(2026, 1, 1), time(20, 0), "America/New_York")
    assert at.utcoffset().total_seconds() == 0 and (at.day, at.hour) == (2, 1)
