"""Analytics API routes (attached to the `api` blueprint; imported by features.py before it is registered):
the same figures as the admin's analytics pages, from the same services.

GET /api/v1/analytics/trends?days=&grain=           time series (events, active players, streaks, ...)
GET /api/v1/analytics/retention?weeks=              D1/D7/D30 gamified vs control, curves, cohorts
GET /api/v1/analytics/achievements                  achievement funnels
GET /api/v1/analytics/points/<system>/balances?edges=   balance histogram
"""

from __future__ import annotations

from flask import jsonify, request

from ..database import replica_reads
from ..services import analytics_funnels, analytics_points, analytics_retention, analytics_series
from . import ApiError, bp, require_api_key
from .openapi import operation
from .schemas import analytics as s
from .schemas.base import query


@bp.get("/analytics/trends")
@operation("Analytics time series", query=s.TrendsQuery, responses={200: s.TrendsOut}, tag="analytics")
@require_api_key
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_trends():
    """Daily or weekly series from the rollups: events per metric, DAU/WAU/MAU and stickiness, streak
    outcomes, achievements completed, points per system and per active player, players per level,
    energy, notifications sent and clicked."""
    q = query(s.TrendsQuery, request.args)
    w, charts = analytics_series.trends(q.days, q.grain)
    return jsonify(
        {
            "days": w.days,
            "grain": w.grain,
            "first": w.first.isoformat(),
            "last": w.last.isoformat(),
            "charts": [c.as_dict() for c in charts],
        }
    )


def _rate(r) -> dict:
    return {"retained": r.retained, "players": r.players, "rate": r.retained / r.players if r.players else None}


@bp.get("/analytics/retention")
@operation("Retention by signup cohort", query=s.RetentionQuery, responses={200: s.RetentionOut}, tag="analytics")
@require_api_key
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_retention_figures():
    """D1/D7/D30 retention of gamified players and of the control group, the difference with its 95 %
    interval, the retention curves and the weekly cohorts."""
    q = query(s.RetentionQuery, request.args)
    data = analytics_retention.retention(weeks=q.weeks)
    names = {label: ("control" if control else "gamified") for control, label in analytics_retention.GROUPS}
    return jsonify(
        {
            "last_day": data["last_day"].isoformat(),
            "summary": [
                {
                    "day": row["day"],
                    "gamified": _rate(row["gamified"]),
                    "control": _rate(row["control"]),
                    "difference": dict(zip(("value", "low", "high"), row["difference"])) if row["difference"] else None,
                }
                for row in data["summary"]
            ],
            "curves": {names[label]: values for label, values in data["curves"].items()},
            "cohorts": [
                {"week": row["week"].isoformat()}
                | {
                    names[label]: {
                        "players": g["players"],
                        **{f"d{n}": _rate(g[f"d{n}"]) for n in analytics_retention.DAYS},
                        "weeks": [_rate(c) if c else None for c in g["weeks"]],
                    }
                    for label, g in row["groups"].items()
                }
                for row in data["cohorts"]
            ],
        }
    )


@bp.get("/analytics/achievements")
@operation("Achievement funnels", responses={200: s.FunnelsOut}, tag="analytics")
@require_api_key
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_achievements():
    """For each achievement, players without it by the share of its target reached, completions and
    the median days from first seen to completion."""
    return jsonify(
        {
            "achievements": [
                {
                    "key": fn.achievement.key,
                    "name": fn.achievement.name,
                    "players": fn.players,
                    "bands": dict(zip(("0-25", "25-50", "50-75", "75-100"), fn.buckets)),
                    "completed": fn.completed,
                    "median_days_to_complete": fn.median_days,
                }
                for fn in analytics_funnels.funnels()
            ]
        }
    )


@bp.get("/analytics/points/<system_key>/balances")
@operation("Balance histogram", query=s.BalancesQuery, responses={200: s.BalancesOut}, errors=(404,), tag="analytics")
@require_api_key
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics_balances(system_key: str):
    """Players per balance bucket; players with no points count as 0. The last bucket is open-ended."""
    q = query(s.BalancesQuery, request.args)
    system = next((x for x in analytics_points.systems() if x.key == system_key), None)
    if system is None:
        raise ApiError(404, "system", f"unknown points system '{system_key}'")
    edges = q.edges or analytics_points.default_edges(system)
    return jsonify(
        {
            "system": system.key,
            "edges": edges,
            "buckets": [{"label": lb, "players": n} for lb, n in analytics_points.histogram(system, edges)],
        }
    )
