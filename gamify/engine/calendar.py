"""Local-calendar arithmetic: IANA zones, periods (daily/weekly/monthly) and their UTC bounds."""

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

FREQUENCIES = ("daily", "weekly", "monthly")


class InvalidTimezone(ValueError):
    pass


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """An IANA zone by name. UTC offsets ("+05:30") and unknown names are refused, never guessed."""
    if not isinstance(name, str) or not name or len(name) > 64:
        raise InvalidTimezone(f"unknown timezone {name!r}")
    if name[0] in "+-" or name.startswith(("UTC+", "UTC-", "GMT+", "GMT-")) or ".." in name:
        raise InvalidTimezone(f"{name!r} is an offset, not an IANA timezone such as 'Europe/London'")
    if name not in _places():
        raise InvalidTimezone(f"unknown timezone {name!r}; use an IANA name such as 'Europe/London'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidTimezone(f"unknown timezone {name!r}; use an IANA name such as 'Europe/London'") from None


# Files in the zone database that are not places: the machine's own zone ("localtime", whatever the
# server is set to), "Factory" (no offset, abbreviation "-00") and the POSIX fallback rules.
NOT_PLACES = {"localtime", "Factory", "posixrules"}


@lru_cache(maxsize=1)
def _places() -> frozenset[str]:
    return frozenset(t for t in available_timezones() if t not in NOT_PLACES and not t.startswith(("posix/", "right/")))


@lru_cache(maxsize=1)
def all_timezones() -> list[str]:
    return sorted(t for t in available_timezones() if "/" in t and not t.startswith(("Etc/", "SystemV/")))


def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(zone(tz)).date()


def period_start(frequency: str, day: date) -> date:
    if frequency == "daily":
        return day
    if frequency == "weekly":  # ISO weeks: Monday to Sunday, so a week may span new year
        return day - timedelta(days=day.weekday())
    if frequency == "monthly":
        return day.replace(day=1)
    raise ValueError(f"unknown frequency {frequency!r}")


def next_period_start(frequency: str, start: date) -> date:
    if frequency == "daily":
        return start + timedelta(days=1)
    if frequency == "weekly":
        return start + timedelta(days=7)
    if frequency == "monthly":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    raise ValueError(f"unknown frequency {frequency!r}")


def previous_period_start(frequency: str, start: date) -> date:
    return period_start(frequency, start - timedelta(days=1))


def period_end(frequency: str, start: date) -> date:
    """Last local date inside the period (inclusive)."""
    return next_period_start(frequency, start) - timedelta(days=1)


def local_midnight_utc(day: date, tz: str) -> datetime:
    """The UTC instant at which `day` begins in `tz` (DST-safe: zoneinfo resolves gaps/folds)."""
    local = datetime.combine(day, time.min).replace(tzinfo=zone(tz))
    return local.astimezone(timezone.utc)


def local_time_utc(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at).replace(tzinfo=zone(tz)).astimezone(timezone.utc)
