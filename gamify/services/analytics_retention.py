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
from ..i18n import _l
from ..models import DailyCount, PlayerActivityDay, User
from ..models._common import utcnow
from ..models.users import ROLE_PLAYER

DAYS = (1, 7, 30)
CURVE_DAYS = 30
WEEKS = 12
Z95 = 1.959963984540054
# The labels are keys (of curves and cohort groups) and stay English (the CSV and API name the groups by
# them); pages show GROUP_NAMES.
GROUPS = ((False, "Gamified"), (True, "Control group"))
GROUP_NAMES = {"Gamified": _l("Gamified"), "Control group": _l("Control group")}


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


MAX_WEEKS = 26  # the oldest cohort the rollups keep week-k figures for
KINDS = ("cohort", "ret", "retw")


def _group(control) -> str:
    return "c" if control else "g"


def roll_up(start: date, end: date) -> int:
    """Retention rollups (analytics_daily_counts, day = the signup day) of the signup days whose figures
    activity on start..end can change: `cohort` g|c → players, `ret` g|c:N → active N days after (N ≤ 30),
    `retw` g|c:k → active in week k after (k < 26). In the caller's transaction, like every rollup."""
    lo = start - timedelta(days=7 * MAX_WEEKS - 1)
    db.session.execute(db.delete(DailyCount).where(DailyCount.kind.in_(KINDS), DailyCount.day.between(lo, end)))
    firsts = (
        db.select(PlayerActivityDay.user_id, func.min(PlayerActivityDay.day).label("d0"))
        .group_by(PlayerActivityDay.user_id)
        .subquery()
    )
    in_range = (User.role == ROLE_PLAYER, firsts.c.d0.between(lo, end))
    rows: dict[tuple, int] = defaultdict(int)
    for d0, control, n in db.session.execute(
        db.select(firsts.c.d0, User.control_group, func.count())
        .join(User, User.id == firsts.c.user_id)
        .where(*in_range)
        .group_by(firsts.c.d0, User.control_group)
    ):
        rows[(_as_date(d0), "cohort", _group(control))] += n
    a = PlayerActivityDay
    diff = _day_diff(a.day, firsts.c.d0)
    for d0, control, n_days, n in db.session.execute(
        db.select(firsts.c.d0, User.control_group, diff, func.count())
        .join(a, a.user_id == firsts.c.user_id)
        .join(User, User.id == firsts.c.user_id)
        .where(*in_range, diff >= 1, diff <= CURVE_DAYS)
        .group_by(firsts.c.d0, User.control_group, diff)
    ):
        rows[(_as_date(d0), "ret", f"{_group(control)}:{int(n_days)}")] += n
    # A literal 7, not a bound parameter: PostgreSQL must see the same expression in GROUP BY.
    week_k = cast(diff / literal_column("7"), Integer)
    for d0, control, k, n in db.session.execute(
        db.select(firsts.c.d0, User.control_group, week_k, func.count(func.distinct(a.user_id)))
        .join(a, a.user_id == firsts.c.user_id)
        .join(User, User.id == firsts.c.user_id)
        .where(*in_range, diff < 7 * MAX_WEEKS)
        .group_by(firsts.c.d0, User.control_group, week_k)
    ):
        rows[(_as_date(d0), "retw", f"{_group(control)}:{int(k)}")] += n
    if rows:
        db.session.execute(
            db.insert(DailyCount), [{"day": d, "kind": k, "key": key, "value": v} for (d, k, key), v in rows.items()]
        )
    return len(rows)


def retention(weeks: int = WEEKS, today: Optional[date] = None) -> dict:
    """Everything the retention page and API show, for the cohorts of the last `weeks` weeks, from the
    retention rollups (roll_up)."""
    weeks = min(weeks, MAX_WEEKS)
    today = today or utcnow().date()
    last_done = today - timedelta(days=1)
    first_week = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)

    signups: dict[tuple[date, bool], int] = {}
    active_on: dict[tuple[date, bool, int], int] = defaultdict(int)
    active_week: dict[tuple[date, bool, int], int] = defaultdict(int)
    for day, kind, key, value in db.session.execute(
        db.select(DailyCount.day, DailyCount.kind, DailyCount.key, DailyCount.value).where(
            DailyCount.kind.in_(KINDS), DailyCount.day.between(first_week, today)
        )
    ):
        group, _, n = key.partition(":")
        control = group == "c"
        if kind == "cohort":
            signups[(day, control)] = value
        elif kind == "ret":
            active_on[(day, control, int(n))] = value
        else:
            active_week[(day, control, int(n))] = value

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
