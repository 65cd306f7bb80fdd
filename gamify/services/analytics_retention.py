"""Retention by signup cohort, gamified players against the control group, from player_activity_days.

A player's signup day is their first active (local) day: gamify first sees a player with their first
event. Day-N retention is the share of players active exactly N days after it, counted only over the
players for whom that day is over (it is before today). A cohort is the players whose signup day falls
in one week (from Monday). Week-k retention (the cohort triangle) is the share active on any of the days
7k..7k+6 after their signup day, over the players for whom those seven days are over.

The difference gamified − control comes with a 95 % interval by Newcombe's hybrid score method (1998,
method 10: Wilson intervals of each proportion combined), which behaves near 0 % and 100 % and with
small groups where the textbook normal interval does not."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Optional

from sqlalchemy import Integer, cast, func, literal_column

from ..extensions import db
from ..models import PlayerActivityDay, User
from ..models._common import utcnow
from ..models.users import ROLE_PLAYER

DAYS = (1, 7, 30)
CURVE_DAYS = 30
WEEKS = 12
Z95 = 1.959963984540054
GROUPS = ((False, "Gamified"), (True, "Control group"))


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of the proportion k/n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def difference(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> Optional[tuple[float, float, float]]:
    """(p1 − p2, lower, upper): Newcombe's hybrid score interval; None when a group is empty."""
    if not n1 or not n2:
        return None
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    return (d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


@dataclass
class Rate:
    retained: int
    players: int

    @property
    def pct(self) -> Optional[float]:
        return 100.0 * self.retained / self.players if self.players else None


def _day_diff(later, earlier):
    """Whole days between two DATE expressions, on PostgreSQL (date − date) and SQLite (julian days)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), Integer)
    return later - earlier


def _as_date(v) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def retention(weeks: int = WEEKS, today: Optional[date] = None) -> dict:
    """Everything the retention page and API show, for the cohorts of the last `weeks` weeks."""
    today = today or utcnow().date()
    last_done = today - timedelta(days=1)
    first_week = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)

    firsts = (
        db.select(PlayerActivityDay.user_id, func.min(PlayerActivityDay.day).label("d0"))
        .group_by(PlayerActivityDay.user_id)
        .subquery()
    )
    # Players per signup day and group: the denominators.
    signups: dict[tuple[date, bool], int] = {}
    for d0, control, n in db.session.execute(
        db.select(firsts.c.d0, User.control_group, func.count())
        .join(User, User.id == firsts.c.user_id)
        .where(User.role == ROLE_PLAYER, firsts.c.d0 >= first_week)
        .group_by(firsts.c.d0, User.control_group)
    ):
        signups[(_as_date(d0), bool(control))] = n

    # Players active N days after their signup day (N ≤ 30; N = 0 is everyone), per signup day and group.
    a = PlayerActivityDay
    diff = _day_diff(a.day, firsts.c.d0)
    active_on: dict[tuple[date, bool, int], int] = defaultdict(int)
    for d0, control, n_days, n in db.session.execute(
        db.select(firsts.c.d0, User.control_group, diff, func.count())
        .join(a, a.user_id == firsts.c.user_id)
        .join(User, User.id == firsts.c.user_id)
        .where(User.role == ROLE_PLAYER, firsts.c.d0 >= first_week, diff <= CURVE_DAYS)
        .group_by(firsts.c.d0, User.control_group, diff)
    ):
        active_on[(_as_date(d0), bool(control), int(n_days))] += n
    # Players active in week k after their signup day.
    # A literal 7, not a bound parameter: PostgreSQL must see the same expression in GROUP BY.
    week_k = cast(diff / literal_column("7"), Integer)
    active_week: dict[tuple[date, bool, int], int] = defaultdict(int)
    for d0, control, k, n in db.session.execute(
        db.select(firsts.c.d0, User.control_group, week_k, func.count(func.distinct(a.user_id)))
        .join(a, a.user_id == firsts.c.user_id)
        .join(User, User.id == firsts.c.user_id)
        .where(User.role == ROLE_PLAYER, firsts.c.d0 >= first_week, diff < 7 * weeks)
        .group_by(firsts.c.d0, User.control_group, week_k)
    ):
        active_week[(_as_date(d0), bool(control), int(k))] += n

    def day_rate(control: bool, n_day: int, days0=None) -> Rate:
        r = Rate(0, 0)
        for (d0, c), n in signups.items():
            if c != control or d0 + timedelta(days=n_day) > last_done or (days0 is not None and d0 not in days0):
                continue
            r.players += n
            r.retained += active_on.get((d0, c, n_day), 0) if n_day else n
        return r

    summary = []
    for n_day in DAYS:
        g, c = day_rate(False, n_day), day_rate(True, n_day)
        ci = difference(g.retained, g.players, c.retained, c.players)
        summary.append({"day": n_day, "gamified": g, "control": c, "difference": ci})

    curves = {label: [day_rate(control, n).pct for n in range(CURVE_DAYS + 1)] for control, label in GROUPS}

    cohorts = []
    week = first_week
    while week <= today:
        days0 = {week + timedelta(days=i) for i in range(7)}
        row = {"week": week, "groups": {}}
        for control, label in GROUPS:
            size = sum(n for (d0, c), n in signups.items() if c == control and d0 in days0)
            cells = []
            for k in range(weeks):
                r = Rate(0, 0)
                for (d0, c), n in signups.items():
                    if c == control and d0 in days0 and d0 + timedelta(days=7 * k + 6) <= last_done:
                        r.players += n
                        r.retained += active_week.get((d0, c, k), 0)
                cells.append(r if r.players else None)
            row["groups"][label] = {
                "players": size,
                "weeks": cells,
                **{f"d{n}": day_rate(control, n, days0) for n in DAYS},
            }
        cohorts.append(row)
        week += timedelta(weeks=1)
    return {"summary": summary, "curves": curves, "cohorts": cohorts, "weeks": weeks, "last_day": last_done}
