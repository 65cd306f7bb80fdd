"""Leaderboards: SQL is the record, Redis sorted sets serve live rankings.

Redis key layout (board keys are [a-z0-9_-], periods "all" or an ISO date, segments "global" or
"attr:value"):

    lb:{key}:{period}:{segment}     ZSET  member = tie-break-encoded player (engine.encode_member),
                                          score = the exact primary score
    lbm:{key}:{period}:{segment}    HASH  user id -> "{version}|{member}" (finds a player's member; the
                                          version orders writes, so a late write never undoes a newer one)
    lbmeta:{key}                    STRING  present <=> Redis holds a complete copy of the board's open
                                          periods; missing (FLUSHALL, restart) => rebuilt from SQL on read
    lbc:{key}:{period}              STRING  the period was finalised: writes to it are dropped (they are
                                          in the SQL archive already)

Writes (gamify/pipeline/leaderboards.py): inside the event transaction the pipeline updates
`leaderboard_scores` (holding FOR SHARE on the board rows, which finalisation and rebuild lock FOR
UPDATE); the Redis write runs after the commit (after_commit.defer) as one pipeline of a Lua upsert
script (`apply_writes`, here). If Redis is unreachable the event still succeeds: a warning is logged
and the board is marked dirty, so it is rebuilt from SQL on the next read.

Rank history (`leaderboard_rank_changes` + `leaderboard.rank_changed` outbox events): the acting
player's own changes are written with the event; those of the players it overtook by the rank fan-out
after the commit (services/rank_fanout.py, from `leaderboard_score_log`).

This module holds the rest: keys and the Lua script, reads (rankings, positions, a player's ranks),
rebuild, finalisation, recompute from the ledgers, validation and CRUD of boards, the CLI.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Optional

import click
from flask import has_app_context
from flask.cli import AppGroup
from redis.exceptions import RedisError
from sqlalchemy import delete, func, select, update

from .. import after_commit
from ..engine import calendar as cal
from ..engine import leaderboards as engine
from ..extensions import db
from ..models import (
    Leaderboard,
    LeaderboardRankChange,
    LeaderboardRun,
    LeaderboardScore,
    LeaderboardScoreLog,
    User,
)
from ..models._common import utcnow
from ..queue import get_redis
from . import outbox

log = logging.getLogger(__name__)

GLOBAL = engine.GLOBAL
CLOSED_TTL = 35 * 24 * 3600  # a finalised period's "closed" marker outlives any straggling write


class LeaderboardError(ValueError):
    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(message)
        self.field, self.status = field, status


# ----------------------------------------------------------------------------- keys


def zkey(board_key: str, period: str, segment: str) -> str:
    return f"lb:{board_key}:{period}:{segment}"


def hkey(board_key: str, period: str, segment: str) -> str:
    return f"lbm:{board_key}:{period}:{segment}"


def meta_key(board_key: str) -> str:
    return f"lbmeta:{board_key}"


def closed_key(board_key: str, period: str) -> str:
    return f"lbc:{board_key}:{period}"


# KEYS: zset, hash, meta marker, closed marker. ARGV: user id, version, score, member ("" = leave).
_UPSERT_LUA = """
if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[4]) == 1 then return -2 end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur then
  local sep = string.find(cur, '|', 1, true)
  if tonumber(string.sub(cur, 1, sep - 1)) >= tonumber(ARGV[2]) then return 0 end
  local old = string.sub(cur, sep + 1)
  if old ~= '' then redis.call('ZREM', KEYS[1], old) end
end
if ARGV[4] == '' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|')
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[4])
end
return 1
"""
_scripts: dict[int, Any] = {}


def _upsert_script(r):
    script = _scripts.get(id(r))
    if script is None:
        script = _scripts[id(r)] = r.register_script(_UPSERT_LUA)
    return script


def _num(x: Optional[float]):
    """Scores as JSON shows them: 12 rather than 12.0."""
    if x is None:
        return None
    return int(x) if float(x).is_integer() else x


def _f(x: float) -> str:
    return repr(float(x))


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


# ----------------------------------------------------------------------------- after-commit work


def _mark_dirty(board_ids) -> None:
    ids = sorted(set(board_ids))
    if not ids:
        return
    try:
        db.session.execute(update(Leaderboard).where(Leaderboard.id.in_(ids)).values(redis_dirty=True))
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("leaderboards: could not mark boards %s dirty", ids)


# ----------------------------------------------------------------------------- config & periods


def by_key(key: str, active_only: bool = True) -> Optional[Leaderboard]:
    q = db.select(Leaderboard).where(Leaderboard.key == key)
    if active_only:
        q = q.where(Leaderboard.active.is_(True))
    return db.session.execute(q).scalar_one_or_none()


def active_boards() -> list[Leaderboard]:
    return list(
        db.session.execute(
            db.select(Leaderboard).where(Leaderboard.active.is_(True)).order_by(Leaderboard.id)
        ).scalars()
    )


def current_period(board: Leaderboard, tz: str = "UTC", now: Optional[datetime] = None) -> str:
    """The period a player in `tz` is in now ("all" for perpetual boards)."""
    if not board.repeating:
        return engine.ALL
    counts, start = engine.place(
        board.frequency, board.start_date, board.current_period_start, cal.local_date(now or utcnow(), tz)
    )
    return engine.period_key(start if counts else board.current_period_start or board.start_date)


def period_info(board: Leaderboard, period: str, tz: Optional[str] = None) -> dict:
    if period == engine.ALL:
        return {"key": period, "start": None, "end": None, "status": "live", "ends_at": None, "finalises_at": None}
    start = date.fromisoformat(period)
    final = board.current_period_start is not None and start < board.current_period_start
    return {
        "key": period,
        "start": period,
        "end": engine.period_end(board.frequency, board.start_date, start).isoformat(),
        "status": "final" if final else "live",
        "ends_at": engine.local_end_utc(board.frequency, board.start_date, start, tz).isoformat() if tz else None,
        "finalises_at": engine.finalises_at(board.frequency, board.start_date, start).isoformat(),
    }


def open_period_filter(board: Leaderboard):
    if not board.repeating:
        return LeaderboardScore.period == engine.ALL
    start = board.current_period_start or board.start_date
    cond = LeaderboardScore.period != engine.ALL
    return (cond & (LeaderboardScore.period >= start.isoformat())) if start else cond


def is_open(board: Leaderboard, period: str) -> bool:
    if not board.repeating:
        return period == engine.ALL
    return period != engine.ALL and (
        board.current_period_start is None or period >= board.current_period_start.isoformat()
    )


# ----------------------------------------------------------------------------- Redis markers and writes


def _limit(board: Leaderboard) -> int:
    return max(1, board.participant_limit or 10)


def _queue_markers(pipe, boards: list[Leaderboard]) -> list[Leaderboard]:
    """Queue an EXISTS of the "complete copy" marker of every board not marked dirty; returns those boards
    (the first len() results of the pipeline answer them, in order)."""
    clean = [b for b in boards if not b.redis_dirty]
    for b in clean:
        pipe.exists(meta_key(b.key))
    return clean


def _redis_usable(boards: list[Leaderboard]) -> dict[int, bool]:
    """Per board: does Redis hold a complete, clean copy? (Raises RedisError when it is down.)"""
    pipe = get_redis().pipeline(transaction=False)
    clean = _queue_markers(pipe, boards)
    found = dict(zip([b.id for b in clean], pipe.execute() if clean else []))
    return {b.id: bool(found.get(b.id)) for b in boards}


@dataclass
class _Write:
    board_key: str
    period: str
    segment: str
    user_id: int
    version: int
    score: Optional[float]  # None: the player left the segment
    member: str


def queue_writes(pipe, writes: list[_Write]) -> None:
    """The Lua upsert per (board, period, segment) a player's score changed in, queued on `pipe`."""
    if not writes:
        return
    script = _upsert_script(get_redis())
    for w in writes:
        script(
            keys=[
                zkey(w.board_key, w.period, w.segment),
                hkey(w.board_key, w.period, w.segment),
                meta_key(w.board_key),
                closed_key(w.board_key, w.period),
            ],
            args=[
                w.user_id,
                w.version,
                _f(w.score) if w.score is not None else "0",
                w.member if w.score is not None else "",
            ],
            client=pipe,
        )


def apply_writes(writes: list[_Write]) -> list:
    """queue_writes in a pipeline of its own (one round trip)."""
    if not writes:
        return []
    pipe = get_redis().pipeline(transaction=False)
    queue_writes(pipe, writes)
    return pipe.execute()


# ----------------------------------------------------------------------------- reading


def ensure_redis(board: Leaderboard) -> bool:
    """True when Redis can serve `board` (rebuilding it from SQL first if its marker is missing or it was
    marked dirty). False when Redis is unreachable: callers read from SQL instead."""
    try:
        if not board.redis_dirty and get_redis().exists(meta_key(board.key)):
            return True
        rebuild(board, only_if_needed=True)
        return True
    except RedisError as e:
        log.warning("leaderboards: Redis unavailable (%s); reading %s from SQL", e, board.key)
        return False


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


def _current_entries(user: User, rebuild: bool = True, now: Optional[datetime] = None) -> list[dict]:
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
    if not by_board:
        return []
    try:
        usable = _redis_usable([b for b in boards if b.id in by_board]) if not rebuild else {}
    except RedisError:
        usable = {}
    out = []
    for b in boards:
        mine = sorted(by_board.get(b.id, []), key=lambda r: (r.segment != GLOBAL, r.segment))
        if not mine:
            continue
        use_redis = ensure_redis(b) if rebuild else usable.get(b.id, False)
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


def my_ranks(user: User) -> list[dict]:
    """The player's current rank on every board and segment they are on (for the dashboard partial
    templates/leaderboards/_my_ranks.html): [{key, name, segment, segment_label, period, rank, score, url}]."""
    return _current_entries(user, rebuild=True)


def runs(board: Leaderboard, segment: str = GLOBAL, limit: int = 20) -> list[LeaderboardRun]:
    return list(
        db.session.execute(
            db.select(LeaderboardRun)
            .where(LeaderboardRun.leaderboard_id == board.id, LeaderboardRun.segment == segment)
            .order_by(LeaderboardRun.period_start.desc())
            .limit(limit)
        ).scalars()
    )


def get_run(board: Leaderboard, period_start: date, segment: str = GLOBAL) -> Optional[LeaderboardRun]:
    return db.session.execute(
        db.select(LeaderboardRun).where(
            LeaderboardRun.leaderboard_id == board.id,
            LeaderboardRun.segment == segment,
            LeaderboardRun.period_start == period_start,
        )
    ).scalar_one_or_none()


def has_run(board: Leaderboard, period_start: date) -> bool:
    return (
        db.session.execute(
            db.select(LeaderboardRun.id)
            .where(LeaderboardRun.leaderboard_id == board.id, LeaderboardRun.period_start == period_start)
            .limit(1)
        ).first()
        is not None
    )


def participants(board: Leaderboard, period: Optional[str] = None, segment: str = GLOBAL) -> int:
    period = period or current_period(board)
    return int(
        db.session.execute(
            select(func.count()).select_from(LeaderboardScore).where(*_sql_where(board, period, segment))
        ).scalar_one()
    )


def has_started(board: Leaderboard, period: str, now: Optional[datetime] = None) -> bool:
    """Has the period begun somewhere on Earth (the first time zone, UTC+14)?"""
    if period == engine.ALL:
        return True
    return date.fromisoformat(period) <= cal.local_date(now or utcnow(), "Pacific/Kiritimati")


# ----------------------------------------------------------------------------- rebuild


def _lock(board_id: int) -> Leaderboard:
    return db.session.execute(
        db.select(Leaderboard)
        .where(Leaderboard.id == board_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _scan(r, pattern: str) -> list[bytes]:
    return list(r.scan_iter(match=pattern, count=1000))


def rebuild(board: Optional[Leaderboard] = None, only_if_needed: bool = False) -> list[str]:
    """Restore Redis exactly from SQL: every open period and segment of the board (or of all boards),
    written in one MULTI/EXEC with the board row locked, so no event commits scores in between.
    Inactive or deleted boards lose their keys. The caller commits (it clears the dirty flag)."""
    r = get_redis()
    targets = [board] if board is not None else list(db.session.execute(db.select(Leaderboard)).scalars())
    done = []
    for b in targets:
        b = _lock(b.id)
        if only_if_needed and not b.redis_dirty and r.exists(meta_key(b.key)):
            continue
        rows = (
            db.session.execute(
                db.select(
                    LeaderboardScore.period,
                    LeaderboardScore.segment,
                    LeaderboardScore.user_id,
                    LeaderboardScore.score,
                    LeaderboardScore.achieved_at,
                    LeaderboardScore.version,
                ).where(LeaderboardScore.leaderboard_id == b.id, open_period_filter(b))
            ).all()
            if b.active
            else []
        )
        old = _scan(r, f"lb:{b.key}:*") + _scan(r, f"lbm:{b.key}:*")
        zsets: dict[tuple, dict] = defaultdict(dict)
        hashes: dict[tuple, dict] = defaultdict(dict)
        for period, segment, uid, score, achieved, version in rows:
            member = engine.encode_member(uid, achieved)
            zsets[(period, segment)][member] = score
            hashes[(period, segment)][uid] = f"{version}|{member}"
        pipe = r.pipeline(transaction=True)
        for i in range(0, len(old), 500):
            pipe.delete(*old[i : i + 500])
        for (period, segment), mapping in zsets.items():
            items = list(mapping.items())
            for i in range(0, len(items), 5000):
                pipe.zadd(zkey(b.key, period, segment), dict(items[i : i + 5000]))
            h = list(hashes[(period, segment)].items())
            for i in range(0, len(h), 5000):
                pipe.hset(hkey(b.key, period, segment), mapping=dict(h[i : i + 5000]))
        for period in {p for p, _ in zsets}:
            pipe.delete(closed_key(b.key, period))
        if b.active:
            pipe.set(meta_key(b.key), utcnow().isoformat())
        else:
            pipe.delete(meta_key(b.key))
        pipe.execute()
        if b.redis_dirty:
            b.redis_dirty = False
        done.append(b.key)
    return done


def drop_redis(board_key: str) -> None:
    r = get_redis()
    keys = (
        _scan(r, f"lb:{board_key}:*")
        + _scan(r, f"lbm:{board_key}:*")
        + _scan(r, f"lbc:{board_key}:*")
        + [meta_key(board_key).encode()]
    )
    for i in range(0, len(keys), 500):
        r.delete(*keys[i : i + 500])


# ----------------------------------------------------------------------------- finalisation


def _final_rankings(board: Leaderboard, period: str) -> dict[str, tuple[int, list[dict]]]:
    rows = db.session.execute(
        db.select(
            LeaderboardScore.segment, LeaderboardScore.user_id, LeaderboardScore.score, LeaderboardScore.achieved_at
        ).where(LeaderboardScore.leaderboard_id == board.id, LeaderboardScore.period == period)
    ).all()
    by_seg: dict[str, list] = defaultdict(list)
    for seg, uid, score, achieved in rows:
        by_seg[seg].append((uid, score, achieved))
    by_seg.setdefault(GLOBAL, [])
    top = _limit(board)
    out, ids = {}, set()
    for seg, items in by_seg.items():
        items.sort(key=lambda t: engine.sort_key(t[1], t[2], t[0]))
        ranks = engine.competition_ranks([s for _, s, _ in items])
        entries = [
            {"rank": rk, "user_id": uid, "score": _num(score)} for (uid, score, _), rk in zip(items[:top], ranks[:top])
        ]
        ids |= {e["user_id"] for e in entries}
        out[seg] = (len(items), entries)
    users = {u.id: u for u in db.session.execute(db.select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    for _total, entries in out.values():
        for e in entries:
            u = users.get(e["user_id"])
            e["external_id"] = u.external_id if u else None
            e["name"] = u.name if u else f"#{e['user_id']}"
    return out


def _close_redis_period(board_key: str, period: str, segments: list[str]) -> None:
    """After the archive committed: mark the period closed (the Lua write drops anything still arriving
    for it) and delete its live keys, atomically."""
    try:
        r = get_redis()
        keys = set(_scan(r, f"lb:{board_key}:{period}:*") + _scan(r, f"lbm:{board_key}:{period}:*"))
        keys |= {zkey(board_key, period, s).encode() for s in segments}
        keys |= {hkey(board_key, period, s).encode() for s in segments}
        pipe = r.pipeline(transaction=True)
        pipe.set(closed_key(board_key, period), "1", ex=CLOSED_TTL)
        pipe.delete(*keys)
        pipe.execute()
    except RedisError as e:
        log.warning("leaderboards: could not close %s/%s in Redis (%s); marked dirty", board_key, period, e)
        _mark_dirty(db.session.execute(db.select(Leaderboard.id).where(Leaderboard.key == board_key)).scalars())


def _finalise_period(board: Leaderboard, start: date, now: datetime) -> dict:
    period = start.isoformat()
    end = engine.period_end(board.frequency, board.start_date, start)
    finals = _final_rankings(board, period)
    for seg, (total, entries) in finals.items():
        db.session.add(
            LeaderboardRun(
                leaderboard_id=board.id,
                segment=seg,
                period_start=start,
                period_end=end,
                rankings=entries,
                participants=total,
                finalised_at=now,
            )
        )
    board.current_period_start = engine.next_period_start(board.frequency, board.start_date, start)
    board.updated_at = now
    total, entries = finals[GLOBAL]
    outbox.emit(
        "leaderboard.finished",
        None,
        {
            "leaderboard": board.key,
            "name": board.name,
            "period_start": period,
            "period_end": end.isoformat(),
            "participants": total,
            "segments": sorted(finals),
            "winners": [
                {"rank": e["rank"], "user_id": e["external_id"], "name": e["name"], "score": e["score"]}
                for e in entries[:3]
            ],
        },
    )
    key, segs = board.key, sorted(finals)
    after_commit.defer(lambda: _close_redis_period(key, period, segs))
    return {
        "leaderboard": board.key,
        "period_start": period,
        "period_end": end.isoformat(),
        "participants": total,
        "segments": len(finals),
    }


def _skip_empty(board: Leaderboard, start: date, now: datetime) -> None:
    """Nobody played in the period: no run, no event. Jump to the next period that has scores, or to the
    one the last time zone is in now (a board whose job was not run for a year catches up at once)."""
    target = engine.first_open_period(board.frequency, board.start_date, now)
    nxt = db.session.execute(
        select(func.min(LeaderboardScore.period)).where(
            LeaderboardScore.leaderboard_id == board.id,
            LeaderboardScore.period > start.isoformat(),
            LeaderboardScore.period != engine.ALL,
        )
    ).scalar_one_or_none()
    if nxt is not None:
        target = min(target, date.fromisoformat(nxt))
    board.current_period_start = max(target, engine.next_period_start(board.frequency, board.start_date, start))
    board.updated_at = now
    key, period = board.key, start.isoformat()
    after_commit.defer(lambda: _close_redis_period(key, period, [GLOBAL]))


def _emit_started(board: Leaderboard) -> None:
    start = board.current_period_start
    outbox.emit(
        "leaderboard.started",
        None,
        {
            "leaderboard": board.key,
            "name": board.name,
            "period_start": start.isoformat(),
            "period_end": engine.period_end(board.frequency, board.start_date, start).isoformat(),
        },
    )


def finalise_due(now: Optional[datetime] = None) -> list[dict]:
    """Finalise every repeating period that is over everywhere on Earth (boundary date 00:00 at UTC-12):
    archive its rankings per segment, start the next period, emit leaderboard.finished / .started.
    Each board row is locked (FOR UPDATE) while it is archived, so events (which hold FOR SHARE while
    writing scores) either land before the archive or roll into the next period. The caller commits;
    Redis is closed after the commit (after_commit.defer). Periods nobody played in are skipped quietly."""
    now = now or utcnow()
    ids = list(
        db.session.execute(
            db.select(Leaderboard.id)
            .where(
                Leaderboard.active.is_(True),
                Leaderboard.frequency != "perpetual",
                Leaderboard.current_period_start.is_not(None),
            )
            .order_by(Leaderboard.id)
        ).scalars()
    )
    done = []
    for board_id in ids:
        advanced = False
        while True:
            board = _lock(board_id)
            start = board.current_period_start
            if not board.active or start is None or engine.finalises_at(board.frequency, board.start_date, start) > now:
                break
            has_scores = (
                db.session.execute(
                    select(LeaderboardScore.id)
                    .where(LeaderboardScore.leaderboard_id == board.id, LeaderboardScore.period == start.isoformat())
                    .limit(1)
                ).first()
                is not None
            )
            if has_scores:
                done.append(_finalise_period(board, start, now))
            else:
                _skip_empty(board, start, now)
            advanced = True
        if advanced:
            _emit_started(board)
    return done


_job_app = None


def finalise_due_job() -> dict:
    """RQ entry point: finalise due periods in a transaction of its own, then update Redis."""
    if not has_app_context():
        global _job_app
        if _job_app is None:
            from .. import create_app

            _job_app = create_app()
        with _job_app.app_context():
            return finalise_due_job()
    try:
        done = finalise_due()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return {"finalised": len(done), "runs": done}


# ----------------------------------------------------------------------------- configuration changes


def _recompute_rows(board: Leaderboard, now: datetime) -> list[dict]:
    """Scores of the board's open periods computed from the ledgers (for new or reconfigured boards)."""
    from ..models import MetricEvent, MetricTotal, PointsAward, PointsBalance, UserStreak

    users = {u.id: u for u in db.session.execute(db.select(User).where(User.role == "player")).scalars()}
    out: dict[tuple, dict] = {}

    def add(uid: int, period: Optional[str], amount: float, at: datetime, absolute: bool = False):
        if uid not in users or period is None:
            return
        cur = out.get((uid, period))
        if cur is None:
            out[(uid, period)] = {"user_id": uid, "period": period, "score": amount, "achieved_at": at}
        else:
            cur["score"] = amount if absolute else cur["score"] + amount
            cur["achieved_at"] = max(cur["achieved_at"], at)

    def period_of(day: date) -> Optional[str]:
        counts, start = engine.place(board.frequency, board.start_date, None, day)
        if not counts:
            return None
        if board.current_period_start is not None and start < board.current_period_start:
            return None  # finalised already: only open periods are recomputed
        return engine.period_key(start)

    open_from = board.current_period_start or board.start_date
    if board.ranked_by == "metric" and board.metric_id:
        if not board.repeating:
            for uid, total, at in db.session.execute(
                db.select(MetricTotal.user_id, MetricTotal.total, MetricTotal.updated_at).where(
                    MetricTotal.metric_id == board.metric_id
                )
            ):
                add(uid, engine.ALL, total, at, True)
        else:
            q = db.select(
                MetricEvent.user_id, MetricEvent.local_date, MetricEvent.value, MetricEvent.occurred_at
            ).where(MetricEvent.metric_id == board.metric_id)
            if open_from:
                q = q.where(MetricEvent.local_date >= open_from)
            for uid, day, value, at in db.session.execute(q):
                add(uid, period_of(day), value, at)
    elif board.ranked_by == "points" and board.system_id:
        if not board.repeating:
            for uid, bal, at in db.session.execute(
                db.select(PointsBalance.user_id, PointsBalance.balance, PointsBalance.updated_at).where(
                    PointsBalance.system_id == board.system_id
                )
            ):
                if bal:
                    add(uid, engine.ALL, float(bal), at, True)
        else:
            q = db.select(
                PointsAward.user_id, PointsAward.local_date, PointsAward.amount, PointsAward.awarded_at
            ).where(PointsAward.system_id == board.system_id, PointsAward.source_event_id.is_not(None))
            if open_from:
                q = q.where(PointsAward.local_date >= open_from)
            for uid, day, amount, at in db.session.execute(q):
                add(uid, period_of(day), float(amount), at)
    elif board.ranked_by == "streak":
        for uid, length, at in db.session.execute(
            db.select(UserStreak.user_id, UserStreak.length, UserStreak.updated_at).where(UserStreak.length > 0)
        ):
            u = users.get(uid)
            if u is None:
                continue
            period = engine.ALL if not board.repeating else period_of(cal.local_date(at, u.timezone))
            add(uid, period, float(length), at, True)
    rows = []
    for (uid, _period), v in out.items():
        if v["score"] == 0 and board.ranked_by != "metric":
            continue
        for seg in engine.segments_for(users[uid].attributes, board.breakdown or []):
            rows.append({**v, "segment": seg})
    return rows


def recompute(board: Leaderboard, now: Optional[datetime] = None) -> int:
    """Replace the scores of the board's open periods with values computed from the ledgers (metric
    events, points awards, streaks) and the players' current attributes, then mark Redis for a rebuild.
    Used when a board is created or its scoring changes. Returns the number of score rows written."""
    now = now or utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        # Events lock their player FOR UPDATE and then wait for this board; our inserts' foreign-key checks
        # need FOR KEY SHARE on those players. Taking the key-share locks *before* the board lock means we
        # never wait for a player while holding the board (no deadlock under traffic).
        ids = sorted({r["user_id"] for r in _recompute_rows(board, now)})
        for i in range(0, len(ids), 1000):
            db.session.execute(
                db.select(User.id).where(User.id.in_(ids[i : i + 1000])).with_for_update(read=True, key_share=True)
            ).all()
    board = _lock(board.id)
    db.session.execute(
        delete(LeaderboardScore).where(LeaderboardScore.leaderboard_id == board.id, open_period_filter(board))
    )
    # Pending score changes describe the scores being replaced: nobody was overtaken by a recompute.
    db.session.execute(delete(LeaderboardScoreLog).where(LeaderboardScoreLog.leaderboard_id == board.id))
    rows = _recompute_rows(board, now)
    for row in rows:
        db.session.add(LeaderboardScore(leaderboard_id=board.id, version=1, updated_at=now, **row))
    board.redis_dirty = True
    return len(rows)


def validate_config(data: dict, existing: Optional[Leaderboard] = None) -> dict:
    """Check a board definition; raises LeaderboardError(field, message)."""
    import re

    from ..models import Metric, PointsSystem

    out = dict(data)
    key = (out.get("key") or "").strip()
    if existing is None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", key):
            raise LeaderboardError("key", "key must be 1-64 lower-case letters, digits, '-' or '_'")
        if by_key(key, active_only=False) is not None:
            raise LeaderboardError("key", f"a leaderboard with key '{key}' already exists")
    name = (out.get("name") or "").strip()
    if not name or len(name) > 120:
        raise LeaderboardError("name", "name is required (at most 120 characters)")
    out["name"] = name
    if out.get("ranked_by") not in engine.RANKED_BY:
        raise LeaderboardError("ranked_by", "ranked_by must be metric, points or streak")
    if out["ranked_by"] == "metric":
        if not out.get("metric_id") or db.session.get(Metric, out["metric_id"]) is None:
            raise LeaderboardError("metric_id", "choose the metric to rank by")
        out["system_id"] = None
    elif out["ranked_by"] == "points":
        if not out.get("system_id") or db.session.get(PointsSystem, out["system_id"]) is None:
            raise LeaderboardError("system_id", "choose the points system to rank by")
        out["metric_id"] = None
    else:
        out["metric_id"] = out["system_id"] = None
    if out.get("frequency") not in engine.FREQUENCIES:
        raise LeaderboardError("frequency", "frequency must be perpetual, daily, weekly or monthly")
    if out["frequency"] == "perpetual":
        out["start_date"] = None
    elif not out.get("start_date"):
        raise LeaderboardError("start_date", "repeating leaderboards need a start date")
    limit = out.get("participant_limit")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
        raise LeaderboardError("participant_limit", "participant limit must be a whole number from 1 to 1000")
    breakdown = out.get("breakdown") or []
    if isinstance(breakdown, str):
        breakdown = [b.strip() for b in breakdown.split(",")]
    breakdown = [b for b in breakdown if b]
    for b in breakdown:
        if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", b):
            raise LeaderboardError("breakdown", f"'{b}' is not an attribute name (letters, digits and _)")
    out["breakdown"] = list(dict.fromkeys(breakdown))[:10]
    return out


_SCORING = ("ranked_by", "metric_id", "system_id", "frequency", "start_date", "breakdown")


def create(data: dict, now: Optional[datetime] = None) -> Leaderboard:
    now = now or utcnow()
    data = validate_config(data)
    board = Leaderboard(
        key=data["key"].strip(),
        name=data["name"],
        ranked_by=data["ranked_by"],
        metric_id=data.get("metric_id"),
        system_id=data.get("system_id"),
        frequency=data["frequency"],
        start_date=data.get("start_date"),
        participant_limit=data["participant_limit"],
        breakdown=data["breakdown"],
        active=data.get("active", True),
        redis_dirty=True,
        created_at=now,
        updated_at=now,
    )
    board.current_period_start = engine.first_open_period(board.frequency, board.start_date, now)
    db.session.add(board)
    db.session.flush()
    recompute(board, now)
    if board.repeating and board.current_period_start:
        _emit_started(board)
    return board


def update_board(board: Leaderboard, data: dict, now: Optional[datetime] = None) -> bool:
    """Apply an edit; scoring changes recompute the open periods. Returns True if scores were recomputed."""
    now = now or utcnow()
    data = validate_config({**data, "key": board.key}, existing=board)
    scoring = any(getattr(board, f) != data.get(f) for f in _SCORING)
    reactivated = data.get("active", board.active) and not board.active
    for f in ("name", "participant_limit", "active", *_SCORING):
        if f in data:
            setattr(board, f, data[f])
    board.updated_at = now
    if scoring or reactivated:
        if board.repeating:
            first = engine.first_open_period(board.frequency, board.start_date, now)
            if scoring or board.current_period_start is None or (first and board.current_period_start < first):
                board.current_period_start = first
        else:
            board.current_period_start = None
        db.session.flush()
        recompute(board, now)
        return True
    board.redis_dirty = True  # limit/name/active: cheap to rebuild, and keeps Redis honest
    return False


def delete_board(board: Leaderboard) -> None:
    key = board.key
    for model in (LeaderboardScoreLog, LeaderboardScore, LeaderboardRankChange, LeaderboardRun):
        db.session.execute(delete(model).where(model.leaderboard_id == board.id))
    db.session.delete(board)
    after_commit.defer(lambda: _drop_quietly(key))


def _drop_quietly(key: str) -> None:
    try:
        drop_redis(key)
    except RedisError as e:
        log.warning("leaderboards: could not drop Redis keys of %s (%s)", key, e)


# ----------------------------------------------------------------------------- wiring

cli = AppGroup("leaderboards", help="Leaderboards: rebuild Redis from SQL, finalise periods, recompute scores.")


@cli.command("rebuild")
@click.option("--key", help="only this board (default: all)")
def rebuild_command(key: Optional[str]):
    """Restore the Redis rankings exactly from the SQL record."""
    board = None
    if key:
        board = by_key(key, active_only=False)
        if board is None:
            raise click.ClickException(f"unknown leaderboard '{key}'")
    try:
        done = rebuild(board)
    except RedisError as e:
        db.session.rollback()
        raise click.ClickException(f"Redis unavailable: {e}") from e
    db.session.commit()
    click.echo(f"rebuilt {len(done)} leaderboard(s): {', '.join(done) or '-'}")


@cli.command("finalise")
@click.option("--now", "now_text", help="pretend it is this UTC instant (ISO 8601)")
def finalise_command(now_text: Optional[str]):
    """Finalise every period that has ended in all time zones."""
    now = None
    if now_text:
        now = datetime.fromisoformat(now_text)
        now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    done = finalise_due(now)
    db.session.commit()
    for d in done:
        click.echo(f"{d['leaderboard']}: {d['period_start']}..{d['period_end']} ({d['participants']} players)")
    click.echo(f"finalised {len(done)} period(s)")


@cli.command("recompute")
@click.argument("key")
def recompute_command(key: str):
    """Recompute a board's open periods from the ledgers, then rebuild Redis."""
    board = by_key(key, active_only=False)
    if board is None:
        raise click.ClickException(f"unknown leaderboard '{key}'")
    n = recompute(board)
    db.session.commit()
    try:
        rebuild(board)
        db.session.commit()
    except RedisError as e:
        db.session.rollback()
        click.echo(f"Redis unavailable ({e}); it will be rebuilt on the next read")
    click.echo(f"{key}: {n} score row(s)")
