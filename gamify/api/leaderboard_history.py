"""Leaderboard record API routes (attached to the `api` blueprint; imported by features.py before it is
registered): a board's past runs, one past run with its rankings, a player's rank history.

    GET /api/v1/leaderboards/<key>/runs?segment=&limit=&cursor=
    GET /api/v1/leaderboards/<key>/runs/<run>?segment=&limit=&offset=
    GET /api/v1/leaderboards/<key>/users/<id>/history?segment=&from=&to=

One past run is also `GET /leaderboards/<key>?run=` (leaderboards.py); both read it through `_archived`.
"""

from __future__ import annotations

from datetime import date

from flask import jsonify, request

from ..services import leaderboards as svc
from ..services.day_ranges import day_range
from . import ApiError, _known_user, bp, cursors, require_api_key
from .leaderboards import _archived, _board, _board_json, _entry_json, _run_day, _run_period, _segment_arg
from .openapi import operation
from .schemas import leaderboard_history as s
from .schemas.base import query


@bp.get("/leaderboards/<key>/runs")
@operation(
    "A leaderboard's past runs (newest first)",
    query=s.RunsQuery,
    responses={200: s.RunsOut},
    errors=(404,),
    tag="leaderboards",
)
@require_api_key
def leaderboard_runs(key: str):
    """The finalised periods of a repeating board in one segment, with their first three; a perpetual
    board has none. Pass `next_cursor` back as `?cursor=` for older runs."""
    q = query(s.RunsQuery, request.args)
    board = _board(key)
    segment = _segment_arg(board)
    scope = f"runs:{board.id}:{segment}"
    position = cursors.decode(scope, q.cursor)
    before = date.fromisoformat(position[0]) if position else None
    runs, more = svc.runs_before(board, segment, q.limit, before)
    return jsonify(
        {
            "leaderboard": board.key,
            "segment": segment,
            "runs": [
                {
                    "run": r.period_start.isoformat(),
                    "period": _run_period(board, r),
                    "participants": r.participants,
                    "top": [_entry_json(e) for e in (r.rankings or [])[:3]],
                }
                for r in runs
            ],
            "has_more": more,
            "next_cursor": cursors.encode(scope, [runs[-1].period_start.isoformat()]) if more else None,
        }
    )


def _run_arg(raw: str) -> date:
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "run", "run must be a date (YYYY-MM-DD): the first day of a past period") from None


@bp.get("/leaderboards/<key>/runs/<run>")
@operation(
    "One past run of a leaderboard, with its rankings",
    query=s.RunQuery,
    responses={200: s.RunOut},
    errors=(404,),
    tag="leaderboards",
)
@require_api_key
def leaderboard_run(key: str, run: str):
    """The archived top N of a finished period, in one segment (404 naming `run` for a period that is not
    finished, or never was)."""
    q = query(s.RunQuery, request.args)
    board = _board(key)
    segment = _segment_arg(board)
    day = _run_day(board, _run_arg(run))
    found = _archived(board, day, segment)
    if found is None:
        raise ApiError(404, "run", f"the run of '{board.key}' starting on {day.isoformat()} is not finished yet")
    entries = list(found.rankings or [])
    limit = q.limit if q.limit is not None else min(board.participant_limit, 100)
    return jsonify(
        {
            "leaderboard": _board_json(board),
            "segment": segment,
            "run": day.isoformat(),
            "period": _run_period(board, found),
            "participants": found.participants,
            "total": len(entries),
            "offset": q.offset,
            "limit": limit,
            "rankings": [_entry_json(e) for e in entries[q.offset : q.offset + limit]],
        }
    )


@bp.get("/leaderboards/<key>/users/<external_id>/history")
@operation(
    "A player's rank history on a leaderboard, by day",
    query=s.HistoryQuery,
    responses={200: s.HistoryOut},
    errors=(404,),
    tag="leaderboards",
)
@require_api_key
def leaderboard_user_history(key: str, external_id: str):
    """Per segment (or the one asked for), the player's local days on which their rank changed: the rank
    at the end of the day, the best of the day, the period and the number of changes; from `from` to
    `to` (at most 366 days; default: the last 30)."""
    q = query(s.HistoryQuery, request.args)
    board = _board(key)
    segment = _segment_arg(board) if q.segment else None
    user = _known_user(external_id)
    start, end = day_range(user, q.from_, q.to)
    return jsonify(
        {
            "leaderboard": board.key,
            "user_id": user.external_id,
            "tz": user.timezone,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "segments": svc.rank_history(board, user, start, end, segment),
        }
    )
