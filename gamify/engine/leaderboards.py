"""Leaderboard arithmetic (pure: no Flask, no DB, no Redis).

- Ranking: competition ranking ("1224"): equal scores share a rank, and the rank of a score is
  1 + the number of participants with a strictly greater score. Within a shared rank the earlier
  achiever (who reached the score first) is listed first.
- Tie-break encoding for Redis sorted sets: the ZSET *score* is the exact primary score (any float,
  no scaling, so metric sums like 2.5 km and large balances stay exact); the display order of equal
  scores is carried by the *member*: ``"<MAX_TS - achieved_µs:016d>:<MAX_UID - user_id:012d>"``.
  Redis orders equal scores lexicographically, and ZREVRANGE walks them in descending order, so an
  earlier achievement (larger inverted timestamp) comes first, then the lower user id. ZCOUNT on the
  primary score gives the shared rank. (We chose this over a composite ``score * 2^k + (MAX_TS - ts)``
  double because 53 bits cannot hold both a real-valued score and a microsecond timestamp exactly.)
- Periods: perpetual boards have one period ("all"). Repeating boards (daily/weekly/monthly) are
  anchored on their start date: weekly periods start on the start date's weekday, monthly ones on its
  day of month (clamped to short months). A player's event falls into the period of their *local*
  date; a period ends at each player's local midnight, and is finalised only once the last time zone
  on Earth (UTC-12, ``Etc/GMT+12``) has passed the boundary: 12:00 UTC on the first day after it.
"""

from __future__ import annotations

import calendar as _pycal
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Optional, Sequence

from . import calendar as cal

RANKED_BY = ("metric", "points", "streak")
FREQUENCIES = ("perpetual", "daily", "weekly", "monthly")
PERPETUAL = "perpetual"
ALL = "all"  # the period key of a perpetual board
GLOBAL = "global"  # the segment key of the whole board
LAST_ZONE = "Etc/GMT+12"  # UTC-12: the last place on Earth where a given date ends

MAX_TS = 10**16 - 1  # µs since the epoch (year 2286)
MAX_UID = 10**12 - 1
SEGMENT_VALUE_MAX = 120


# ----------------------------------------------------------------------------- ranking


def competition_ranks(scores: Sequence[float]) -> list[int]:
    """Ranks of scores already sorted from high to low: [9, 7, 7, 3] -> [1, 2, 2, 4]."""
    ranks: list[int] = []
    for i, s in enumerate(scores):
        ranks.append(ranks[-1] if i and s == scores[i - 1] else i + 1)
    return ranks


def ranks_from(first_rank: int, first_position: int, scores: Sequence[float]) -> list[int]:
    """Competition ranks for a slice of the full ordering: its first element sits at display position
    `first_position` and has rank `first_rank` (1 + how many score strictly more, which may be smaller
    when the slice starts inside a tie); every later new score ranks at its own display position."""
    out: list[int] = []
    for i, s in enumerate(scores):
        if i == 0:
            out.append(first_rank)
        else:
            out.append(out[-1] if s == scores[i - 1] else first_position + i)
    return out


def sort_key(score: float, achieved_at: datetime, user_id: int) -> tuple:
    """Display order: higher score first, then earlier achiever, then lower user id."""
    return (-score, achieved_at, user_id)


def encode_member(user_id: int, achieved_at: datetime) -> str:
    ts = int((achieved_at - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(microseconds=1))
    ts = min(max(ts, 0), MAX_TS)
    return f"{MAX_TS - ts:016d}:{MAX_UID - user_id:012d}"


def decode_member(member: str | bytes) -> int:
    if isinstance(member, bytes):
        member = member.decode()
    return MAX_UID - int(member.rsplit(":", 1)[1])


def band_bounds(old: Optional[float], new: Optional[float]) -> Optional[tuple[float, float, str]]:
    """The score interval [lo, hi) of others whose rank moves, and whether the mover went "up" or
    "down" (or None when nothing moves)."""
    if new is not None and (old is None or new > old):
        return (old if old is not None else float("-inf"), new, "up")
    if old is not None and (new is None or new < old):
        return (new if new is not None else float("-inf"), old, "down")
    return None


# ----------------------------------------------------------------------------- segments


def segment_value(value) -> Optional[str]:
    """The normalised text of an attribute value (case-folded so 'London' and 'london' are one city)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    text = text.strip().lower()[:SEGMENT_VALUE_MAX]
    return text or None


def segments_for(attributes: Optional[dict], breakdown: Iterable[str]) -> list[str]:
    """Every segment a player is in: the whole board plus one per breakdown attribute they have."""
    out = [GLOBAL]
    attrs = attributes or {}
    for attr in breakdown or ():
        v = segment_value(attrs.get(attr))
        if v is not None:
            out.append(f"{attr}:{v}")
    return out


def parse_segment(segment: str, breakdown: Iterable[str]) -> Optional[str]:
    """Normalise a requested segment ("global", "city:London" -> "city:london"); None if invalid."""
    if not isinstance(segment, str) or not segment.strip():
        return None
    segment = segment.strip()
    if segment.lower() == GLOBAL:
        return GLOBAL
    attr, sep, value = segment.partition(":")
    if not sep or attr not in set(breakdown or ()):
        return None
    v = segment_value(value)
    return f"{attr}:{v}" if v is not None else None


def segment_label(segment: str, mine: bool = False) -> str:
    if segment == GLOBAL:
        return "Global"
    attr, _, value = segment.partition(":")
    nice = attr.replace("_", " ")
    return f"My {nice}" if mine else f"{nice.capitalize()}: {value}"


# ----------------------------------------------------------------------------- periods


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    m = month - 1 + n
    return year + m // 12, m % 12 + 1


def _month_start(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, _pycal.monthrange(year, month)[1]))


def period_start(frequency: str, anchor: Optional[date], day: date) -> Optional[date]:
    """Start of the period containing local date `day`, or None if `day` is before the anchor (the
    board's start date). Without an anchor weeks are ISO weeks and months calendar months."""
    if frequency == PERPETUAL:
        return None
    if anchor is not None and day < anchor:
        return None
    if frequency == "daily":
        return day
    if frequency == "weekly":
        if anchor is None:
            return day - timedelta(days=day.weekday())
        return anchor + timedelta(days=7 * ((day - anchor).days // 7))
    if frequency == "monthly":
        if anchor is None:
            return day.replace(day=1)
        start = _month_start(day.year, day.month, anchor.day)
        if start > day:
            y, m = _add_months(day.year, day.month, -1)
            start = _month_start(y, m, anchor.day)
        return start
    raise ValueError(f"unknown frequency {frequency!r}")


def next_period_start(frequency: str, anchor: Optional[date], start: date) -> date:
    if frequency == "daily":
        return start + timedelta(days=1)
    if frequency == "weekly":
        return start + timedelta(days=7)
    if frequency == "monthly":
        y, m = _add_months(start.year, start.month, 1)
        return _month_start(y, m, anchor.day if anchor is not None else 1)
    raise ValueError(f"no next period for {frequency!r}")


def period_end(frequency: str, anchor: Optional[date], start: date) -> date:
    """Last local date inside the period (inclusive)."""
    return next_period_start(frequency, anchor, start) - timedelta(days=1)


def period_key(start: Optional[date]) -> str:
    return ALL if start is None else start.isoformat()


def local_end_utc(frequency: str, anchor: Optional[date], start: date, tz: str) -> datetime:
    """When the period ends for a player in `tz`: their local midnight after its last day."""
    return cal.local_midnight_utc(next_period_start(frequency, anchor, start), tz)


def finalises_at(frequency: str, anchor: Optional[date], start: date) -> datetime:
    """The instant the period is over everywhere: the boundary date's midnight at UTC-12."""
    return cal.local_midnight_utc(next_period_start(frequency, anchor, start), LAST_ZONE)


def earliest_local_date(now: datetime) -> date:
    """The calendar date in the last time zone (no player anywhere can be on an earlier date)."""
    return cal.local_date(now, LAST_ZONE)


def first_open_period(frequency: str, anchor: Optional[date], now: datetime) -> Optional[date]:
    """The oldest period a new (or reconfigured) board should treat as open at `now`: the period of the
    start date if that is still ahead somewhere on Earth, else the period the last time zone is in."""
    if frequency == PERPETUAL:
        return None
    day = earliest_local_date(now)
    current = period_start(frequency, anchor, day)
    if current is None:  # the board starts later
        return period_start(frequency, anchor, anchor) if anchor else None
    return current


def place(
    frequency: str, anchor: Optional[date], open_from: Optional[date], local_day: date
) -> tuple[bool, Optional[date]]:
    """The period an event on `local_day` counts in: (counts, period_start).

    Before the start date it does not count. An event for the period that was *just* finalised (it
    committed after the archive: the boundary race) rolls into the open period, so no score is lost;
    events for older, long-closed periods (backdated imports, demo seeding) do not count on the board."""
    if frequency == PERPETUAL:
        return True, None
    start = period_start(frequency, anchor, local_day)
    if start is None:
        return False, None
    if open_from is not None and start < open_from:
        if next_period_start(frequency, anchor, start) != open_from:
            return False, None
        start = open_from
    return True, start
