"""Admin: analytics over time (trends, retention, achievement funnels, points), from the daily rollups;
every chart has its numbers as a table and as a CSV download.

The pages speak the admin's language; the CSV downloads are English whatever it is (headers, series and
bucket names, ISO dates, plain numbers): they are read by spreadsheets and scripts, which need the same
columns from every admin."""

from __future__ import annotations

import csv
import io
from typing import Optional

from flask import Response, abort, render_template, request

from .. import i18n, params
from ..database import replica_reads
from ..i18n import _, force_locale
from ..services import analytics_funnels, analytics_points, analytics_retention, analytics_series
from .analytics_svg import prepare_all
from .base import bp


def _range_args() -> tuple[int, str]:
    """?days=7|30|90&grain=day|week, lenient like every HTML page: anything else is the default."""
    days = params.whole(request.args.get("days"), 1, 366)
    grain = request.args.get("grain")
    return (days if days in analytics_series.RANGES else 30), (grain if grain in analytics_series.GRAINS else "day")


def csv_response(header: list, rows: list, filename: str) -> Response:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([v.isoformat() if hasattr(v, "isoformat") else v for v in row])
    return Response(
        buf.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/analytics/trends")
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_trends():
    days, grain = _range_args()
    window, charts = analytics_series.trends(days, grain)
    return render_template(
        "admin/analytics_trends.html",
        window=window,
        charts=prepare_all(charts),
        ranges=analytics_series.RANGES,
        grains=analytics_series.GRAINS,
        grain_names={"day": _("Day"), "week": _("Week")},
    )


@bp.get("/analytics/trends/<chart_id>.csv")
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_trends_csv(chart_id: str):
    days, grain = _range_args()
    with force_locale("en"):  # stable columns (module docstring)
        chart = analytics_series.chart(chart_id, days, grain)
    if chart is None:
        abort(404)
    header = ["week" if grain == "week" else "day"] + [name for name, _ in chart.series]
    return csv_response(header, chart.rows(), f"{chart.id}-{days}d-{grain}.csv")


def _retention_curve(data: dict) -> analytics_series.Chart:
    return analytics_series.Chart(
        "retention_curve",
        _("Retention curve"),
        _("Share of players active N days after their first day, gamified against the control group."),
        "%",
        list(range(analytics_retention.CURVE_DAYS + 1)),
        [
            (str(analytics_retention.GROUP_NAMES[label]), [None if v is None else round(v, 1) for v in vals])
            for label, vals in data["curves"].items()
        ],
        percent=True,
        period_label=_("Day after signup"),
        prefix="D",
    )


def _pct(r) -> str:
    return "" if r is None or r.pct is None else f"{r.pct:.1f}"


@bp.get("/analytics/retention")
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_retention_page():
    data = analytics_retention.retention()
    return render_template(
        "admin/analytics_retention.html",
        data=data,
        curve=prepare_all([_retention_curve(data)])[0],
        groups=[(label, analytics_retention.GROUP_NAMES[label]) for _c, label in analytics_retention.GROUPS],
    )


@bp.get("/analytics/retention/<name>.csv")
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_retention_csv(name: str):
    data = analytics_retention.retention()
    if name == "summary":
        header = ["day", "gamified_retained", "gamified_players", "gamified_pct", "control_retained"]
        header += ["control_players", "control_pct", "difference_pts", "ci95_low_pts", "ci95_high_pts"]
        rows = []
        for s in data["summary"]:
            g, c, d = s["gamified"], s["control"], s["difference"]
            ci = ["%.1f" % (100 * x) for x in d] if d else ["", "", ""]
            rows.append([f"D{s['day']}", g.retained, g.players, _pct(g), c.retained, c.players, _pct(c), *ci])
        return csv_response(header, rows, "retention-summary.csv")
    if name == "cohorts":
        weeks = range(data["weeks"])
        header = ["cohort_week", "group", "players", "d1_pct", "d7_pct", "d30_pct"] + [f"week{k}_pct" for k in weeks]
        rows = [
            [row["week"], label, g["players"], _pct(g["d1"]), _pct(g["d7"]), _pct(g["d30"])]
            + [_pct(cell) for cell in g["weeks"]]
            for row in data["cohorts"]
            for label, g in row["groups"].items()
        ]
        return csv_response(header, rows, "retention-cohorts.csv")
    if name == "curve":
        with force_locale("en"):  # stable columns (module docstring)
            chart = _retention_curve(data)
        header = ["day_after_signup"] + [n for n, _ in chart.series]
        return csv_response(header, [["" if v is None else v for v in r] for r in chart.rows()], "retention-curve.csv")
    abort(404)


@bp.get("/analytics/funnels")
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_funnels_page():
    # The bands in the admin's number format ('0 %–25 %'); the CSV keeps BUCKETS' own.
    edges = (0, 25, 50, 75, 100)
    labels = [f"{i18n.num(lo)}–{i18n.pct(hi)}" for lo, hi in zip(edges, edges[1:])]
    return render_template(
        "admin/analytics_funnels.html",
        funnels=analytics_funnels.funnels(),
        buckets=labels,
        bucket_label=dict(zip(analytics_funnels.BUCKETS, labels)),
        status_names={"locked": _("locked"), "archived": _("archived")},  # inactive ones are left out
    )


@bp.get("/analytics/funnels.csv")
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_funnels_csv():
    header = ["achievement", "key", "players"] + list(analytics_funnels.BUCKETS) + ["completed", "median_days"]
    rows = [
        [
            fn.label,
            fn.achievement.key,
            fn.players,
            *fn.buckets,
            fn.completed,
            "" if fn.median_days is None else fn.median_days,
        ]
        for fn in analytics_funnels.funnels()
    ]
    return csv_response(header, rows, "achievement-funnels.csv")


def _points_system(key: Optional[str]):
    systems = analytics_points.systems()
    return systems, next((s for s in systems if s.key == key), systems[0] if systems else None)


@bp.get("/analytics/points")
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_points_page():
    days, grain = _range_args()
    systems, system = _points_system(request.args.get("system"))
    edges = analytics_points.parse_edges(request.args.get("edges"))
    if system is not None and edges is None:
        edges = analytics_points.default_edges(system)
    window, charts = analytics_series.trends(days, grain)
    wanted = {"xp_per_active", f"levels_{system.key}" if system else ""}
    return render_template(
        "admin/analytics_points.html",
        systems=systems,
        system=system,
        edges=edges,
        histogram=analytics_points.histogram(system, edges) if system else [],
        grain_names={"day": _("Day"), "week": _("Week")},
        charts=prepare_all([c for c in charts if c.id in wanted]),
        window=window,
        ranges=analytics_series.RANGES,
        grains=analytics_series.GRAINS,
    )


@bp.get("/analytics/points/<key>.csv")
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_points_csv(key: str):
    _, system = _points_system(key)
    if system is None or system.key != key:
        abort(404)
    edges = analytics_points.parse_edges(request.args.get("edges")) or analytics_points.default_edges(system)
    with force_locale("en"):  # stable bucket names (module docstring)
        rows = analytics_points.histogram(system, edges)
    return csv_response(["balance", "players"], rows, f"balances-{key}.csv")
