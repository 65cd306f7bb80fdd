"""Trophy's leaderboards.

    GET /trophy/v1/leaderboards                      the boards (includeFinished=true: switched-off ones too)
    GET /trophy/v1/leaderboards/{key}                rankings: offset, limit, run, userId, userAttributes
    GET /trophy/v1/users/{id}/leaderboards/{key}     the user's rank and value, and their rank history

Rankings are read live from Redis (or SQL) for open periods and from the archive for finished runs, by
the same services /api/v1 uses. Trophy has no time-zone parameter: the current period is UTC's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Optional

from ..engine import calendar as cal
from ..extensions import db
from ..models import Leaderboard, LeaderboardRankChange, User
from ..models._common import utcnow
from ..services import leaderboards as svc
from . import schemas as s
from . import shapes
from .achievements import attribute_pairs
from .base import TrophyError, answer, bp, not_found, query, require_key, ts
from .users import known_user


def known_board(key: str) -> Leaderboard:
    board = svc.by_key(key, active_only=False)
    if board is None:
        raise not_found("leaderboard", key)
    return board


def _segment(board: Leaderboard, raw: Optional[str]) -> str:
    """Trophy's userAttributes ("city:London") as gamify's segment; none: the whole board."""
    if not raw:
        return svc.GLOBAL
    pairs = attribute_pairs(raw)
    segment = svc.engine.parse_segment(raw, board.breakdown or []) if len(pairs) == 1 else None
    if segment is None:
        allowed = ", ".join(board.breakdown or []) or "none"
        raise TrophyError(422, f"userAttributes must be one attribute:value of this board's breakdown ({allowed})")
    return segment


def _run(board: Leaderboard, day: Optional[date], segment: str):
    """(archived run or None, period key): the run starting on `day`, or the current one."""
    if day is None:
        return None, svc.current_period(board, "UTC")
    if not board.repeating:
        raise TrophyError(422, "this leaderboard does not repeat: it has no runs")
    try:
        return svc.archived_run(board, day, segment), day.isoformat()
    except svc.LeaderboardError as e:
        raise TrophyError(e.status if e.status == 404 else 422, str(e)) from e


def _user_name(entry: dict) -> Optional[str]:
    name = entry.get("name")
    return None if not name or name == entry.get("external_id") else name


def _ranking(entry: dict) -> s.RankingOut:
    return s.RankingOut(
        user_id=entry.get("external_id") or "",
        user_name=_user_name(entry),
        rank=entry["rank"],
        value=shapes.board_value(entry["score"]),
    )


@bp.get("/leaderboards")
@require_key
def all_leaderboards():
    q = query(s.FinishedQuery)
    now = utcnow()
    boards = svc.all_boards() if q.include_finished else svc.active_boards()
    return answer([s.LeaderboardOut(**shapes.board_fields(b, now)) for b in sorted(boards, key=lambda b: b.id)])


@bp.get("/leaderboards/<key>")
@require_key
def leaderboard(key: str):
    board = known_board(key)
    q = query(s.RankingsQuery)
    segment = _segment(board, q.user_attributes)
    run, period = _run(board, q.run, segment)
    limit = min(q.limit, board.participant_limit)  # no more than the board ranks
    offset = q.offset
    if q.user_id is not None:  # offset counts from the user's place
        user = db.session.execute(db.select(User).where(User.external_id == q.user_id)).scalar_one_or_none()
        place = _place(board, run, period, segment, user)
        offset = None if place is None else max(0, place - 1 + q.offset)
    if offset is None:
        rankings = []
    elif run is not None:
        rankings = [_ranking(e) for e in list(run.rankings or [])[offset : offset + limit]]
    else:
        rankings = [_ranking(e) for e in svc.rankings(board, period, segment, offset, limit)["entries"]]
    return answer(s.LeaderboardWithRankingsOut(**shapes.board_fields(board), rankings=rankings))


def _place(board: Leaderboard, run, period: str, segment: str, user: Optional[User]) -> Optional[int]:
    """The user's display position (1 = first) in the run or the live period; None when not ranked."""
    if user is None:
        return None
    if run is not None:
        return next((i + 1 for i, e in enumerate(run.rankings or []) if e.get("user_id") == user.id), None)
    found = svc.position(board, period, segment, user.id, 0)
    return found["position"] if found else None


@bp.get("/users/<external_id>/leaderboards/<key>")
@require_key
def user_leaderboard(external_id: str, key: str):
    user = known_user(external_id)
    board = known_board(key)
    q = query(s.UserBoardQuery)
    run, period = _run(board, q.run, svc.GLOBAL)
    rank = value = None
    if run is not None:
        mine = next((e for e in run.rankings or [] if e.get("user_id") == user.id), None)
        if mine is not None:
            rank, value = mine["rank"], mine["score"]
    if rank is None:  # live, or outside the archived top N (the SQL record still knows the rank)
        found = svc.position(board, period, svc.GLOBAL, user.id, 0, use_redis=None if run is None else False)
        if found:
            rank, value = found["rank"], found["score"]
    return answer(
        s.UserLeaderboardOut(
            **shapes.board_fields(board),
            rank=rank,
            value=shapes.board_value(value),
            history=_history(board, period, run, user, q.num_events, utcnow()),
        )
    )


def _history(board: Leaderboard, period: str, run, user: User, days: int, now: datetime) -> list[s.LeaderboardEventOut]:
    """The user's whole-board rank on each of their local days with a change, over the last `days` days
    (of the run, for a past one), oldest first: from services.leaderboards.rank_history (the rank at the
    end of the day), with the rank before it (the previous day's, or the last change before the window).
    gamify records ranks, not the value at each change: values are null (docs/trophy-compat.md)."""
    if days <= 0:
        return []
    end = cal.local_date(now, user.timezone)
    if run is not None:
        end = min(end, run.period_end)
    start = end - timedelta(days=days - 1)
    found = svc.rank_history(board, user, start, end, segment=svc.GLOBAL)
    entries = [e for e in (found[0]["days"] if found else []) if e["period"] == period]
    before = db.session.execute(
        db.select(LeaderboardRankChange.new_rank)
        .where(
            LeaderboardRankChange.leaderboard_id == board.id,
            LeaderboardRankChange.period == period,
            LeaderboardRankChange.segment == svc.GLOBAL,
            LeaderboardRankChange.user_id == user.id,
            LeaderboardRankChange.occurred_at < cal.local_midnight_utc(start, user.timezone),
        )
        .order_by(LeaderboardRankChange.occurred_at.desc(), LeaderboardRankChange.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    out = []
    for e in entries:
        day = date.fromisoformat(e["date"])
        out.append(
            s.LeaderboardEventOut(
                date=e["date"],
                timestamp=ts(cal.local_midnight_utc(day, user.timezone)),
                previous_rank=before,
                rank=e["rank"],
                previous_value=None,
                value=None,
            )
        )
        before = e["rank"]
    return out
