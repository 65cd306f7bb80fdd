"""Time series for the analytics trends page and its API, read from the daily rollups
(services/analytics_rollups.py) in one query: never from the event table.

A chart is a list of periods (days, or weeks starting on Monday) and one or more named series of
numbers, one per period. Counts add up over a week; DAU is the week's average, WAU/MAU and levels are
their value on the week's last day (a distinct count does not add up).

Titles, descriptions, units and series labels are translated when a chart is built (`_`: the admin's
language on the pages, English for the JSON API, whose requests always speak English; gamify/i18n.py)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Optional

from ..extensions import db
from ..i18n import _, _l
from ..models import Achievement, DailyCount, Metric, PointsLevel, PointsSystem
from ..models._common import utcnow

RANGES = (7, 30, 90)
GRAINS = ("day", "week")
STREAK_KEYS = (("started", _l("Started")), ("extended", _l("Extended")), ("frozen", _l("Frozen")), ("lost", _l("Lost")))
ENERGY_KEYS = (("spent", _l("Spent")), ("refilled", _l("Refilled with tokens")), ("gifted", _l("Gifted")))
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
    weekly = w.grain == "week"
    charts: list[Chart] = []

    metrics = {str(m.id): m.name for m in db.session.execute(db.select(Metric).order_by(Metric.name)).scalars()}
    charts.append(
        Chart(
            "events",
            _("Events per metric"),
            _("Events sent per week, by metric (players' local days).")
            if weekly
            else _("Events sent per day, by metric (players' local days)."),
            _("Events"),
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
            _("Active players"),
            _("Players with at least one event: DAU (a week's average by week), WAU (7 days) and MAU (30 days)."),
            _("Players"),
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
            _("Stickiness (DAU / MAU)"),
            _("How many of the month's players come back on a given day."),
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
            _("Streak outcomes"),
            _("Streak periods per week by outcome (started: extended to a length of 1).")
            if weekly
            else _("Streak periods per day by outcome (started: extended to a length of 1)."),
            _("Periods"),
            w.periods,
            [(str(label), _values(w, streak.get(k, {}))) for k, label in STREAK_KEYS],
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
            _("Achievements completed"),
            _("Completions per week (UTC days; backdated grants left out), in all and for the most completed.")
            if weekly
            else _("Completions per day (UTC days; backdated grants left out), in all and for the most completed."),
            _("Completions"),
            w.periods,
            [(_("All"), _values(w, totals))] + [(names.get(k, f"#{k}"), _values(w, ach[k])) for k in top],
            style="area",
        )
    )

    systems = list(db.session.execute(db.select(PointsSystem).order_by(PointsSystem.id)).scalars())
    points = data["points"]
    charts.append(
        Chart(
            "points",
            _("Points awarded"),
            _("Points awarded per week in each system (spends not counted).")
            if weekly
            else _("Points awarded per day in each system (spends not counted)."),
            _("Points"),
            w.periods,
            [(f"{s.badge} {s.name}".strip(), _values(w, points.get(str(s.id), {}))) for s in systems],
        )
    )
    dau_sum = _values(w, active.get("dau", {}))
    charts.append(
        Chart(
            "xp_per_active",
            _("Points per active player"),
            _("Points awarded per week divided by the players active that week (player-days by week).")
            if weekly
            else _("Points awarded per day divided by the players active that day."),
            _("Points"),
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
                _("%(system)s: players per level", system=s.name),
                _("Players on each level at the end of the period (players with no points yet left out)."),
                _("Players"),
                w.periods,
                [(_("No level yet"), _values(w, levels.get(f"{s.id}:0", {})))]
                + [(f"{lv.badge} {lv.name}".strip(), _values(w, levels.get(f"{s.id}:{lv.id}", {}))) for lv in lvs],
                style="area",
            )
        )

    energy = data["energy"]
    charts.append(
        Chart(
            "energy",
            _("Energy"),
            _("Energy spent on actions, refilled with tokens and gifted to friends per week (UTC days).")
            if weekly
            else _("Energy spent on actions, refilled with tokens and gifted to friends per day (UTC days)."),
            _("Energy"),
            w.periods,
            [(str(label), _values(w, energy.get(k, {}))) for k, label in ENERGY_KEYS],
        )
    )

    notif = data["notification"]
    channels = sorted({k.split(":")[0] for k in notif}) or ["email", "push"]
    charts.append(
        Chart(
            "notifications",
            _("Notifications sent and clicked"),
            _("Messages sent and first clicks on their links per week, by channel (UTC days).")
            if weekly
            else _("Messages sent and first clicks on their links per day, by channel (UTC days)."),
            _("Messages"),
            w.periods,
            [
                (label % {"channel": c}, _values(w, notif.get(f"{c}:{what}", {})))
                for c in channels
                for what, label in (("sent", _("%(channel)s sent")), ("clicked", _("%(channel)s clicked")))
            ],
        )
    )
    for c in charts:
        c.period_label = _("Week of") if weekly else _("Day")
    return w, charts


def chart(chart_id: str, days: int, grain: str, today: Optional[date] = None) -> Optional[Chart]:
    return next((c for c in trends(days, grain, today)[1] if c.id == chart_id), None)
