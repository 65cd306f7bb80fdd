"""Ranges of a player's local days, as the API's summaries take them (`?from=&to=`): bounded, with the
player's last 30 days as the default."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Optional

from ..engine import calendar as cal
from ..models import User
from ..models._common import utcnow

MAX_DAYS = 366  # the longest range: a year (leap years included)
DEFAULT_DAYS = 30


def day_range(
    user: User, start: Optional[date], end: Optional[date], now: Optional[datetime] = None
) -> tuple[date, date]:
    """The range asked for, DEFAULT_DAYS long where an end is left out: the player's last DEFAULT_DAYS
    local days (today included) when both are."""
    if start is None and end is None:
        end = cal.local_date(now or utcnow(), user.timezone)
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if end is None:
        end = start + timedelta(days=DEFAULT_DAYS - 1)
    return start, end
