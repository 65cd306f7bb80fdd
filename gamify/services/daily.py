"""Once a day at each player's local midnight: which players' local day has begun since their last grant.

Shared by the scheduled daily grants (points' `local_midnight` triggers, energy's `daily_grant`). Each
run takes every player whose local day is later than the last day recorded for them, so a late run
still grants the day and no day is granted twice."""

from __future__ import annotations

from datetime import date, datetime
from typing import Iterator, Optional, Union

from ..engine import calendar as cal
from ..extensions import db
from ..models import ROLE_PLAYER, User


def players_due(now: datetime, last: dict[int, Union[date, datetime]]) -> Iterator[tuple[User, date]]:
    """(player, their local today) for each player whose local day began after `last[player.id]`: a local
    date, or a UTC time read as a date in the player's zone. Players without an entry are due."""
    players = db.session.execute(db.select(User).where(User.role == ROLE_PLAYER).order_by(User.id)).scalars().all()
    for user in players:
        today = cal.local_date(now, user.timezone)
        prev: Optional[Union[date, datetime]] = last.get(user.id)
        if isinstance(prev, datetime):
            prev = cal.local_date(prev, user.timezone)
        if prev is None or prev < today:
            yield user, today
