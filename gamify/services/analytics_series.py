"""Time series for the analytics trends page and its API, read from the daily rollups
(services/analytics_rollups.py) in one query: never from the event table.

A chart is a list of periods (days, or weeks starting on Monday) and one or more named series of
numbers, one per period. Counts add up over a week; DAU is the week's average, WAU/MAU and levels are
their value on the week's last day (a distinct count does not add up)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Optional

from ..extensions import db
from ..models import Achievement, DailyCount, Metric, PointsLevel, PointsSystem
from ..models._common import utcnow

RANGES = (7, 30, 90)
GRAINS = ("day", "week")
STREAK_KEYS = (("started", "Started"), ("extended", "Extended"), ("frozen", "Frozen"), ("lost", "Lost"))
ENERGY_KEYS = (("spent", "Spent"), ("refilled", "Refilled with tokens"), ("gifted", "Gifted"))
# Kinds whose weekly value is the last day's, not the sum.
LAST_OF_WEEK = {"level"}
TOP_ACHIEVEMENTS = 5


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    unit: str
    periods: list[date]
    series: list[tuple[str, list[float]]] = field(default_factory=list)
    style: str = "line"  # line | area
    # Values are a rate (%), drawn on a 0..100 scale with one decimal.
    percent: bool = False
    # The first column's heading, and what goes before a period that is a number (D7 of a curve).
    period_label: str = "Day"
    prefix: str = ""

    def rows(self) -> list[list]:
        """The table: one row per period, a column per series."""
        return [[p] + [s[i] for _, s in self.series] for i, p in enumerate(self.periods)]

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "unit": self.unit,
            "periods": [p.isoformat() if isinstance(p, date) else p for p in self.periods],
            "series": [{"name": n, "values": v} for n, v in self.series],
        }


@dataclass
class Window:
    days: int
    grain: str
    first: date
    last: date
    periods: list[date]

    def period_of(self, d: date) -> date:
        return d - timedelta(days=d.weekday()) if self.grain == "week" else d

    def span(self, p: date) -> int:
        """Days of the window inside period p."""
        if self.grain == "day":
            return 1
        return (min(p + timedelta(days=6), self.last) - max(p, self.first)).days + 1


def window(days: int = 30, grain: str = "day", today: Optional[date] = None) -> Window:
    days = days if days in RANGES else 30
    grain = grain if grain in GRAINS else "day"
    last = today or utcnow().date()
    first = last - timedelta(days=days - 1)
    w = Window(days, grain, first, last, [])
    seen: list[date] = []
    for i in range(days):
        p = w.period_of(first + timedelta(days=i))
        if not seen or seen[-1] != p:
            seen.append(p)
    w.periods = seen
    return w


def _load(w: Window) -> dict[str, dict[str, dict[date, float]]]:
    """kind → key → period → value, summed per period except the last-of-period kinds."""
    out: dict[str, dict[str, dict[date, float]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for day, kind, key, value in db.session.execute(
        db.select(DailyCount.day, DailyCount.kind, DailyCount.key, DailyCount.value)
        .where(DailyCount.day.between(w.first, w.last))
        .order_by(DailyCount.day)
    ):
        p = w.period_of(day)
        if kind in LAST_OF_WEEK or (kind == "active" and key != "dau"):
            last = p if w.grain == "day" else w.last if w.period_of(w.last) == p else p + timedelta(days=6)
            if day == last:
                out[kind][key][p] = value
        else:
            out[kind][key][p] += value
    return out


def _values(w: Window, by_period: dict[date, float]) -> list[float]:
    return [by_period.get(p, 0) for p in w.periods]


def trends(days: int = 30, grain: str = "day", today: Optional[date] = None) -> tuple[Window, list[Chart]]:
    w = window(days, grain, today)
    data = _load(w)
    per = "week" if w.grain == "week" else "day"
    charts: list[Chart] = []

    metrics = {str(m.id): m.name for m in db.session.execute(db.select(Metric).order_by(Metric.name)).scalars()}
    charts.append(
        Chart(
            "events",
            "Events per metric",
            f"Events sent per {per}, by metric (players' local days).",
            "Events",
            w.periods,
            [(name, _values(w, data["events"].get(k, {}))) for k, name in metrics.items()],
        )
    )

    active = data["active"]
    dau = [v / w.span(p) for p, v in zip(w.periods, _values(w, active.get("dau", {})))]
    mau = _values(w, active.get("mau", {}))
    charts.append(
        Chart(
            "active",
            "Active players",
            "Players with at least one event: DAU (a week's average by week), WAU (7 days) and MAU (30 days).",
            "Players",
            w.periods,
            [
                ("DAU", [round(v, 1) for v in dau]),
                ("WAU", _values(w, active.get("wau", {}))),
                ("MAU", mau),
            ],
        )
    )
    charts.append(
        Chart(
            "stickiness",
            "Stickiness (DAU / MAU)",
            "How many of the month's players come back on a given day.",
            "%",
            w.periods,
            [("DAU/MAU", [round(100.0 * d / m, 1) if m else 0 for d, m in zip(dau, mau)])],
            style="area",
            percent=True,
        )
    )

    streak = data["streak"]
    charts.append(
        Chart(
            "streaks",
            "Streak outcomes",
            f"Streak periods per {per} by outcome (started: extended to a length of 1).",
            "Periods",
            w.periods,
            [(label, _values(w, streak.get(k, {}))) for k, label in STREAK_KEYS],
        )
    )

    ach = data["achievement"]
    totals = defaultdict(int)
    for by_period in ach.values():
        for p, v in by_period.items():
            totals[p] += v
    names = {
        str(a.id): f"{a.badge} {a.name}".strip()
        for a in db.session.execute(db.select(Achievement).where(Achievement.id.in_([int(k) for k in ach])))
        .scalars()
        .all()
    }
    top = sorted(ach, key=lambda k: -sum(ach[k].values()))[:TOP_ACHIEVEMENTS]
    charts.append(
        Chart(
            "achievements",
            "Achievements completed",
            f"Completions per {per} (UTC days; backdated grants left out), in all and for the most completed.",
            "Completions",
            w.periods,
            [("All", _values(w, totals))] + [(names.get(k, f"#{k}"), _values(w, ach[k])) for k in top],
            style="area",
        )
    )

    systems = list(db.session.execute(db.select(PointsSystem).order_by(PointsSystem.id)).scalars())
    points = data["points"]
    charts.append(
        Chart(
            "points",
            "Points awarded",
            f"Points awarded per {per} in each system (spends not counted).",
            "Points",
            w.periods,
            [(f"{s.badge} {s.name}".strip(), _values(w, points.get(str(s.id), {}))) for s in systems],
        )
    )
    dau_sum = _values(w, active.get("dau", {}))
    charts.append(
        Chart(
            "xp_per_active",
            "Points per active player",
            f"Points awarded per {per} divided by the players active that {per} (player-days by week).",
            "Points",
            w.periods,
            [
                (
                    f"{s.badge} {s.name}".strip(),
                    [round(v / n, 1) if n else 0 for v, n in zip(_values(w, points.get(str(s.id), {})), dau_sum)],
                )
                for s in systems
            ],
        )
    )
    levels = data["level"]
    for s in systems:
        lvs = list(
            db.session.execute(
                db.select(PointsLevel).where(PointsLevel.system_id == s.id).order_by(PointsLevel.threshold)
            ).scalars()
        )
        if not lvs:
            continue
        charts.append(
            Chart(
                f"levels_{s.key}",
                f"{s.name}: players per level",
                "Players on each level at the end of the period (players with no points yet left out).",
                "Players",
                w.periods,
                [("No level yet", _values(w, levels.get(f"{s.id}:0", {})))]
                + [(f"{lv.badge} {lv.name}".strip(), _values(w, levels.get(f"{s.id}:{lv.id}", {}))) for lv in lvs],
                style="area",
            )
        )

    energy = data["energy"]
    charts.append(
        Chart(
            "energy",
            "Energy",
            f"Energy spent on actions, refilled with tokens and gifted to friends per {per} (UTC days).",
            "Energy",
            w.periods,
            [(label, _values(w, energy.get(k, {}))) for k, label in ENERGY_KEYS],
        )
    )

    notif = data["notification"]
    channels = sorted({k.split(":")[0] for k in notif}) or ["email", "push"]
    charts.append(
        Chart(
            "notifications",
            "Notifications sent and clicked",
            f"Messages sent and first clicks on their links per {per}, by channel (UTC days).",
            "Messages",
            w.periods,
            [
                (f"{c} {what}", _values(w, notif.get(f"{c}:{what}", {})))
                for c in channels
                for what in ("sent", "clicked")
            ],
        )
    )
    for c in charts:
        c.period_label = "Week of" if w.grain == "week" else "Day"
    return w, charts


def chart(chart_id: str, days: int, grain: str, today: Optional[date] = None) -> Optional[Chart]:
    return next((c for c in trends(days, grain, today)[1] if c.id == chart_id), None)
