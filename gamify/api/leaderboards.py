"""Leaderboard API routes, attached to the JSON API blueprint (imported by features.py before the
blueprint is registered).

    GET /api/v1/leaderboards
    GET /api/v1/leaderboards/<key>?segment=city:london&limit=10&offset=0&run=YYYY-MM-DD&tz=Europe/London
    GET /api/v1/leaderboards/<key>/users/<id>?segment=&radius=2&run=
"""

from __future__ import annotations

from datetime import date
from typing import Optional

from flask import jsonify, request

from ..database import replica_reads
from ..engine import leaderboards as engine
from ..models import Leaderboard, LeaderboardRun
from ..services import leaderboards as svc
from . import ApiError, _known_user, bp, require_api_key
from .openapi import operation
from .schemas import leaderboards as s
from .schemas.base import query


def _board(key: str) -> Leaderboard:
    board = svc.by_key(key)
    if board is None:
        raise ApiError(404, "key", f"unknown leaderboard '{key}'")
    return board


def _segment_arg(board: Leaderboard) -> str:
    raw = request.args.get("segment")
    if raw is None or raw == "":
        return engine.GLOBAL
    seg = engine.parse_segment(raw, board.breakdown or [])
    if seg is None:
        allowed = ", ".join(["global"] + [f"{a}:<value>" for a in board.breakdown or []])
        raise ApiError(400, "segment", f"segment must be one of: {allowed}")
    return seg


def _run_day(board: Leaderboard, day: Optional[date]) -> Optional[date]:
    if day is not None and not board.repeating:
        raise ApiError(400, "run", "perpetual leaderboards have no runs")
    return day


def _board_json(board: Leaderboard) -> dict:
    return {
        "key": board.key,
        "name": board.name,
        "ranked_by": board.ranked_by,
        "metric": board.metric.key if board.metric else None,
        "system": board.system.key if board.system else None,
        "frequency": board.frequency,
        "start_date": board.start_date.isoformat() if board.start_date else None,
        "participant_limit": board.participant_limit,
        "breakdown": list(board.breakdown or []),
    }


def _entry_json(e: dict) -> dict:
    return {"rank": e["rank"], "user_id": e.get("external_id"), "name": e.get("name"), "score": e["score"]}


def _run_period(board: Leaderboard, run: LeaderboardRun) -> dict:
    return {
        "key": run.period_start.isoformat(),
        "start": run.period_start.isoformat(),
        "end": run.period_end.isoformat(),
        "status": "final",
        "finalised_at": run.finalised_at.isoformat(),
    }


def _archived(board: Leaderboard, day: date, segment: str) -> Optional[LeaderboardRun]:
    """A finalised run, or None if that period is still open (then it is served live)."""
    try:
        return svc.archived_run(board, day, segment)
    except svc.LeaderboardError as e:
        raise ApiError(e.status, e.field, str(e)) from e


@bp.get("/leaderboards")
@operation("The active leaderboards", responses={200: s.BoardsOut}, tag="leaderboards")
@require_api_key
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def leaderboards_index():
    return jsonify({"leaderboards": [_board_json(b) for b in svc.active_boards()]})


@bp.get("/leaderboards/<key>")
@operation(
    "A leaderboard's rankings", query=s.RankingsQuery, responses={200: s.RankingsOut}, errors=(404,), tag="leaderboards"
)
@require_api_key
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def leaderboard_rankings(key: str):
    board = _board(key)
    segment = _segment_arg(board)
    q = query(s.RankingsQuery, request.args)
    limit = q.limit if q.limit is not None else min(board.participant_limit, 25)
    offset = q.offset
    run_day = _run_day(board, q.run)
    tz = q.tz or "UTC"
    body = {"leaderboard": _board_json(board), "segment": segment, "offset": offset, "limit": limit}
    run = _archived(board, run_day, segment) if run_day else None
    if run is not None:
        entries = list(run.rankings or [])
        body.update(
            period=_run_period(board, run),
            participants=run.participants,
            total=len(entries),
            rankings=[_entry_json(e) for e in entries[offset : offset + limit]],
        )
    else:
        period = run_day.isoformat() if run_day else svc.current_period(board, tz)
        data = svc.rankings(board, period, segment, offset, limit)
        body.update(
            period=svc.period_info(board, period),
            participants=data["participants"],
            total=data["total"],
            rankings=[_entry_json(e) for e in data["entries"]],
        )
    return jsonify(body)


@bp.get("/leaderboards/<key>/users/<external_id>")
@operation(
    "A player's place on a leaderboard",
    query=s.PositionQuery,
    responses={200: s.PositionOut},
    errors=(404,),
    tag="leaderboards",
)
@require_api_key
def leaderboard_user(key: str, external_id: str):
    board = _board(key)
    segment = _segment_arg(board)
    q = query(s.PositionQuery, request.args)
    radius = q.radius
    run_day = _run_day(board, q.run)
    user = _known_user(external_id)
    body = {"leaderboard": board.key, "segment": segment, "user_id": user.external_id, "name": user.name}
    run = _archived(board, run_day, segment) if run_day else None
    if run is not None:
        entries = list(run.rankings or [])
        idx = next((i for i, e in enumerate(entries) if e.get("user_id") == user.id), None)
        body.update(
            period=_run_period(board, run),
            participants=run.participants,
            rank=entries[idx]["rank"] if idx is not None else None,
            score=entries[idx]["score"] if idx is not None else None,
            around=[_entry_json(e) for e in entries[max(0, idx - radius) : idx + radius + 1]]
            if idx is not None
            else [],
        )
        if idx is None:  # outside the archived top N: the SQL record still knows the final rank
            found = svc.position(board, run.period_start.isoformat(), segment, user.id, 0, use_redis=False)
            if found:
                body.update(rank=found["rank"], score=found["score"])
    else:
        period = run_day.isoformat() if run_day else svc.current_period(board, user.timezone)
        found = svc.position(board, period, segment, user.id, radius)
        body.update(
            period=svc.period_info(board, period, user.timezone),
            participants=found["participants"] if found else svc.participants(board, period, segment),
            rank=found["rank"] if found else None,
            score=found["score"] if found else None,
            around=[_entry_json(e) for e in found["around"]] if found else [],
        )
    return jsonify(body)
