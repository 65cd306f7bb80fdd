"""Reading rankings: a page of a board, a player's position with the players around them, a player's
ranks on every board; from Redis, or from SQL when Redis has no usable copy."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Optional

from redis.exceptions import RedisError
from sqlalchemy import func, select

from ...engine import leaderboards as engine
from ...extensions import db
from ...models import (
    Leaderboard,
    LeaderboardScore,
    User,
)
from ...queue import get_redis
from .boards import GLOBAL, active_boards, current_period
from .store import _f, _limit, _num, _s, ensure_redis, hkey, zkey

log = logging.getLogger(__name__)


def _hydrate(entries: list[dict]) -> list[dict]:
    ids = {e["user_id"] for e in entries}
    users = {u.id: u for u in db.session.execute(db.select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    for e in entries:
        u = users.get(e["user_id"])
        e["external_id"] = u.external_id if u else None
        e["name"] = u.name if u else f"#{e['user_id']}"
    return entries


def _entries(first_rank: int, pairs: list[tuple[int, float]], offset: int) -> list[dict]:
    ranks = engine.ranks_from(first_rank, offset + 1, [s for _, s in pairs])
    return [
        {"rank": rk, "position": offset + i + 1, "user_id": u, "score": _num(s)}
        for i, ((u, s), rk) in enumerate(zip(pairs, ranks))
    ]


def _sql_order():
    return (LeaderboardScore.score.desc(), LeaderboardScore.achieved_at, LeaderboardScore.user_id)


def _sql_where(board: Leaderboard, period: str, segment: str):
    return (
        LeaderboardScore.leaderboard_id == board.id,
        LeaderboardScore.period == period,
        LeaderboardScore.segment == segment,
    )


def _sql_count_above(board, period, segment, score) -> int:
    return int(
        db.session.execute(
            select(func.count())
            .select_from(LeaderboardScore)
            .where(*_sql_where(board, period, segment), LeaderboardScore.score > score)
        ).scalar_one()
    )


def _slice(
    board: Leaderboard, period: str, segment: str, offset: int, count: int, use_redis: bool
) -> tuple[int, list[dict]]:
    """(participants, entries at display positions offset+1 .. offset+count)."""
    if count <= 0:
        count = 0
    if use_redis:
        try:
            r = get_redis()
            k = zkey(board.key, period, segment)
            pipe = r.pipeline(transaction=False)
            pipe.zcard(k)
            if count:
                pipe.zrevrange(k, offset, offset + count - 1, withscores=True)
            res = pipe.execute()
            total, raw = res[0], (res[1] if count else [])
            pairs = [(engine.decode_member(m), float(s)) for m, s in raw]
            first = 1 + r.zcount(k, "(" + _f(pairs[0][1]), "+inf") if pairs else 1
            return total, _entries(first, pairs, offset)
        except RedisError as e:
            log.warning("leaderboards: Redis read failed (%s); reading from SQL", e)
    where = _sql_where(board, period, segment)
    total = int(db.session.execute(select(func.count()).select_from(LeaderboardScore).where(*where)).scalar_one())
    pairs = (
        [
            (u, s)
            for u, s in db.session.execute(
                select(LeaderboardScore.user_id, LeaderboardScore.score)
                .where(*where)
                .order_by(*_sql_order())
                .offset(offset)
                .limit(count)
            ).all()
        ]
        if count
        else []
    )
    first = 1 + _sql_count_above(board, period, segment, pairs[0][1]) if pairs else 1
    return total, _entries(first, pairs, offset)


def rankings(
    board: Leaderboard, period: str, segment: str = GLOBAL, offset: int = 0, limit: Optional[int] = None
) -> dict:
    """Live rankings of an open period: the top N (participant limit), paginated by offset/limit."""
    top = _limit(board)
    limit = top if limit is None else limit
    use_redis = ensure_redis(board)
    count = max(0, min(limit, top - offset))
    total, entries = _slice(board, period, segment, offset, count, use_redis)
    return {
        "participants": total,
        "total": min(total, top),
        "offset": offset,
        "limit": limit,
        "entries": _hydrate(entries),
    }


def position(
    board: Leaderboard, period: str, segment: str, user_id: int, radius: int = 2, use_redis: Optional[bool] = None
) -> Optional[dict]:
    """A player's rank and display position, with `radius` neighbours each side; None if not ranked."""
    if use_redis is None:
        use_redis = ensure_redis(board)
    if use_redis:
        try:
            r = get_redis()
            k = zkey(board.key, period, segment)
            raw = r.hget(hkey(board.key, period, segment), user_id)
            member = _s(raw).split("|", 1)[1] if raw else ""
            if not member:
                return None
            pipe = r.pipeline(transaction=False)
            pipe.zrevrank(k, member)
            pipe.zscore(k, member)
            pipe.zcard(k)
            idx, score, total = pipe.execute()
            if idx is None:
                return None
            rank = 1 + r.zcount(k, "(" + _f(score), "+inf")
            _, around = _slice(board, period, segment, max(0, idx - radius), min(idx, radius) + radius + 1, True)
            return {
                "rank": rank,
                "position": idx + 1,
                "score": _num(score),
                "participants": total,
                "around": _hydrate(around),
            }
        except RedisError as e:
            log.warning("leaderboards: Redis read failed (%s); reading from SQL", e)
    where = _sql_where(board, period, segment)
    row = db.session.execute(
        select(LeaderboardScore).where(*where, LeaderboardScore.user_id == user_id)
    ).scalar_one_or_none()
    if row is None:
        return None
    above = _sql_count_above(board, period, segment, row.score)
    tied_before = int(
        db.session.execute(
            select(func.count())
            .select_from(LeaderboardScore)
            .where(
                *where,
                LeaderboardScore.score == row.score,
                (LeaderboardScore.achieved_at < row.achieved_at)
                | ((LeaderboardScore.achieved_at == row.achieved_at) & (LeaderboardScore.user_id < user_id)),
            )
        ).scalar_one()
    )
    idx = above + tied_before
    total = int(db.session.execute(select(func.count()).select_from(LeaderboardScore).where(*where)).scalar_one())
    _, around = _slice(board, period, segment, max(0, idx - radius), min(idx, radius) + radius + 1, False)
    return {
        "rank": above + 1,
        "position": idx + 1,
        "score": _num(row.score),
        "participants": total,
        "around": _hydrate(around),
    }


def my_ranks(user: User, now: Optional[datetime] = None) -> list[dict]:
    """The player's current rank on every board and segment they are on (for the dashboard partial
    templates/leaderboards/_my_ranks.html): [{key, name, segment, segment_label, period, rank, score, url}]."""
    boards = active_boards()
    if not boards:
        return []
    periods = {b.id: current_period(b, user.timezone, now) for b in boards}
    rows = (
        db.session.execute(
            db.select(LeaderboardScore).where(
                LeaderboardScore.user_id == user.id,
                LeaderboardScore.leaderboard_id.in_(list(periods)),
                LeaderboardScore.period.in_(set(periods.values())),
            )
        )
        .scalars()
        .all()
    )
    by_board = defaultdict(list)
    for row in rows:
        if row.period == periods[row.leaderboard_id]:
            by_board[row.leaderboard_id].append(row)
    out = []
    for b in boards:
        mine = sorted(by_board.get(b.id, []), key=lambda r: (r.segment != GLOBAL, r.segment))
        if not mine:
            continue
        use_redis = ensure_redis(b)
        for row in mine:
            rank = None
            if use_redis:
                try:
                    rank = 1 + get_redis().zcount(zkey(b.key, row.period, row.segment), "(" + _f(row.score), "+inf")
                except RedisError:
                    use_redis = False
            if rank is None:
                rank = 1 + _sql_count_above(b, row.period, row.segment, row.score)
            out.append(
                {
                    "key": b.key,
                    "name": b.name,
                    "segment": row.segment,
                    "period": row.period,
                    "segment_label": engine.segment_label(row.segment, mine=True),
                    "rank": rank,
                    "score": _num(row.score),
                    "url": f"/leaderboards?board={b.key}&segment={row.segment}",
                }
            )
    return out


def participants(board: Leaderboard, period: Optional[str] = None, segment: str = GLOBAL) -> int:
    period = period or current_period(board)
    return int(
        db.session.execute(
            select(func.count()).select_from(LeaderboardScore).where(*_sql_where(board, period, segment))
        ).scalar_one()
    )
