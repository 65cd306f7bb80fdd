"""What the line/area charts of admin/_charts.html (`lines`) draw, worked out in Python: the polyline
points, the axis labels and the table's formatted numbers. Jinja loops and babel's formatting per cell
cost most of a 90-day page (about 5,000 numbers); here they cost a few milliseconds."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Optional

from babel import Locale

from .. import i18n
from ..services.analytics_series import Chart

HEIGHT = 160  # the plot's height in px (the inner SVG's viewBox is 1000 wide)
MAX_X_LABELS = 5  # readable at phone width


def formatter():
    """A number formatter equal to i18n.num for this request's language: Python's own for English (the
    admin's default, and the same digits), babel's (memoised) for the others."""
    if i18n.current().startswith("en"):

        def en(v) -> str:
            if v is None:
                return "—"
            if isinstance(v, float) and not v.is_integer():
                return f"{round(v, 1):,}"
            return f"{int(v):,}"

        return en
    cache: dict = {}

    def other(v) -> str:
        if v is None:
            return "—"
        if v not in cache:
            cache[v] = i18n.num(v)
        return cache[v]

    return other


@lru_cache(maxsize=4096)
def _date_labels(p: date, locale: str) -> tuple[str, str]:
    # Memoised per language: a 90-day page labels the same dates for each of its ten charts.
    return i18n.fmt_date(p, with_year=False), i18n.fmt_date(p, with_year=True)


def _period(p, prefix: str) -> tuple[str, str]:
    """(axis label, table label) of a period: a date in the admin's language ('Dec 2' / '2 dic' on the
    axis, with the year in the table), or a number with its prefix (D7)."""
    if isinstance(p, date):
        return _date_labels(p, i18n.current())
    return f"{prefix}{p}", f"{prefix}{p}"


def percent_sign() -> str:
    """What follows a percentage in this language: '%' in English, a no-break space and '%' in Spanish."""
    return Locale.parse(i18n.current()).percent_formats[None].pattern.rsplit("0", 1)[-1]


def prepare(c: Chart, fmt=None) -> dict:
    fmt = fmt or formatter()
    n = len(c.periods)
    values = [v for _, vals in c.series for v in vals if v is not None]
    vmax = 100 if c.percent else (max(values) if values else 0) or 1
    step = 1000.0 / (n - 1) if n > 1 else 0

    def x(i: int) -> float:
        return step * i if n > 1 else 500.0

    lines = []
    for i, (name, vals) in enumerate(c.series):
        pts = " ".join(f"{x(j):.1f},{HEIGHT - HEIGHT * (v or 0) / vmax:.1f}" for j, v in enumerate(vals))
        area = f"{x(0):.1f},{HEIGHT} {pts} {x(n - 1):.1f},{HEIGHT}" if c.style == "area" and n else None
        lines.append({"name": name, "cls": f"s{i % 6}", "points": pts, "area": area})
    every = max(1, (n + MAX_X_LABELS - 1) // MAX_X_LABELS)
    x_labels = []
    for i, p in enumerate(c.periods):
        # Every `every`-th period and the last one, skipping one that would sit on top of the last.
        if (i % every == 0 and (n - 1 - i) * 2 >= every) or i == n - 1:
            pos = 100.0 * i / (n - 1) if n > 1 else 50.0
            anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
            x_labels.append({"x": f"{pos:.2f}%", "anchor": anchor, "text": _period(p, c.prefix)[0]})
    suffix = percent_sign() if c.percent else ""
    rows = [
        [_period(p, c.prefix)[1]] + [fmt(vals[i]) + (suffix if vals[i] is not None else "") for _, vals in c.series]
        for i, p in enumerate(c.periods)
    ]
    return {
        "height": HEIGHT,
        "max_label": fmt(vmax) + suffix,
        "lines": lines,
        "x_labels": x_labels,
        "rows": rows,
    }


def prepare_all(charts: list[Chart]) -> list[tuple[Chart, dict]]:
    fmt = formatter()
    return [(c, prepare(c, fmt)) for c in charts]


def drawn(c: Optional[Chart]) -> Optional[tuple[Chart, dict]]:
    return (c, prepare(c)) if c is not None else None
