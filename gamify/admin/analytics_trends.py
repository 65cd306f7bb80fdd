"""Admin: analytics over time (trends, retention, achievement funnels, points), from the daily rollups;
every chart has its numbers as a table and as a CSV download."""

from __future__ import annotations

import csv
import io

from flask import Response, abort, render_template, request

from .. import params
from ..services import analytics_series
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
def analytics_trends():
    days, grain = _range_args()
    window, charts = analytics_series.trends(days, grain)
    return render_template(
        "admin/analytics_trends.html",
        window=window,
        charts=charts,
        ranges=analytics_series.RANGES,
        grains=analytics_series.GRAINS,
    )


@bp.get("/analytics/trends/<chart_id>.csv")
def analytics_trends_csv(chart_id: str):
    days, grain = _range_args()
    chart = analytics_series.chart(chart_id, days, grain)
    if chart is None:
        abort(404)
    header = ["week" if grain == "week" else "day"] + [name for name, _ in chart.series]
    return csv_response(header, chart.rows(), f"{chart.id}-{days}d-{grain}.csv")
