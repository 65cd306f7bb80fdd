"""The Redis copy of the live rankings: key layout (see the package docstring), the Lua upsert, writes
after commit, markers that say a copy is complete, and rebuilding a copy from the SQL record."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Optional

from redis.exceptions import RedisError
from sqlalchemy import update

from ... import database, redis_roles
from ...engine import leaderboards as engine
from ...extensions import db
from ...models import (
    Leaderboard,
    LeaderboardScore,
)
from ...models._common import utcnow
from ...ops import telemetry
from .boards import open_period_filter

log = logging.getLogger(__name__)


CLOSED_TTL = 35 * 24 * 3600  # a finalised period's "closed" marker outlives any straggling write


# Every key of a board carries the hash tag {<board key>}, so on a Redis Cluster they all hash to one
# slot: the Lua upsert (four keys), the rebuild's MULTI/EXEC and the period close's DEL run on one node.
# A tag per board rather than per period: the meta marker is per board, and a board has one or two
# open periods at a time, so a finer tag would not spread the load; boards spread across the nodes.
def zkey(board_key: str, period: str, segment: str) -> str:
    return f"lb:{{{board_key}}}:{period}:{segment}"


def hkey(board_key: str, period: str, segment: str) -> str:
    return f"lbm:{{{board_key}}}:{period}:{segment}"


def meta_key(board_key: str) -> str:
    return f"lbmeta:{{{board_key}}}"


def closed_key(board_key: str, period: str) -> str:
    return f"lbc:{{{board_key}}}:{period}"


def _legacy_keys(r, board_key: str) -> list[bytes]:
    """Keys of the layout before hash tags (lb:<key>:..., lbmeta:<key>): a rebuild deletes them. Their
    marker name changed too, so the first read after an upgrade finds no copy and rebuilds anyway."""
    if redis_roles.is_cluster(r):  # the old layout could never run on a cluster
        return []
    found = [k for p in ("lb", "lbm", "lbc") for k in redis_roles.scan(f"{p}:{board_key}:*", client=r)]
    return found + ([f"lbmeta:{board_key}".encode()] if r.exists(f"lbmeta:{board_key}") else [])


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
    pipe = redis_roles.pipeline()
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
    script = _upsert_script(redis_roles.rankings_redis())
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
    pipe = redis_roles.pipeline()
    queue_writes(pipe, writes)
    return pipe.execute()


def ensure_redis(board: Leaderboard) -> bool:
    """True when Redis can serve `board` (rebuilding it from SQL first if its marker is missing or it was
    marked dirty). False when Redis is unreachable: callers read from SQL instead."""
    try:
        if not board.redis_dirty and redis_roles.rankings_redis().exists(meta_key(board.key)):
            return True
        rebuild(board, only_if_needed=True)
        return True
    except RedisError as e:
        log.warning("leaderboards: Redis unavailable (%s); reading %s from SQL", e, board.key)
        return False


def _lock(board_id: int) -> Leaderboard:
    return db.session.execute(
        db.select(Leaderboard)
        .where(Leaderboard.id == board_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _scan(r, pattern: str, board_key: str) -> list[bytes]:
    """A board's keys matching `pattern` (on a cluster: only the node holding the board's slot)."""
    return redis_roles.scan(pattern, key=meta_key(board_key), client=r)


def rebuild(board: Optional[Leaderboard] = None, only_if_needed: bool = False) -> list[str]:
    """Restore Redis exactly from SQL: every open period and segment of the board (or of all boards),
    written in one MULTI/EXEC with the board row locked, so no event commits scores in between.
    Inactive or deleted boards lose their keys. The caller commits (it clears the dirty flag).
    Always from the primary, even when a page on the replica asks: a lagging copy would put old scores
    into Redis, where they would stay until the next rebuild."""
    with database.primary_reads():
        return _rebuild(board, only_if_needed)


def _rebuild(board: Optional[Leaderboard], only_if_needed: bool) -> list[str]:
    r = redis_roles.rankings_redis()
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
        old = _scan(r, f"lb:{{{b.key}}}:*", b.key) + _scan(r, f"lbm:{{{b.key}}}:*", b.key)
        zsets: dict[tuple, dict] = defaultdict(dict)
        hashes: dict[tuple, dict] = defaultdict(dict)
        for period, segment, uid, score, achieved, version in rows:
            member = engine.encode_member(uid, achieved)
            zsets[(period, segment)][member] = score
            hashes[(period, segment)][uid] = f"{version}|{member}"
        pipe = redis_roles.transaction(meta_key(b.key), client=r)
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
        legacy = _legacy_keys(r, b.key)
        for i in range(0, len(legacy), 500):
            r.delete(*legacy[i : i + 500])  # one Redis (never a cluster): a multi-key DEL is fine
        if b.redis_dirty:
            b.redis_dirty = False
        done.append(b.key)
    telemetry.leaderboards_rebuilt(len(done))
    return done


def drop_redis(board_key: str) -> None:
    r = redis_roles.rankings_redis()
    keys = (
        [k for p in ("lb", "lbm", "lbc") for k in _scan(r, f"{p}:{{{board_key}}}:*", board_key)]
        + [meta_key(board_key).encode()]
        + _legacy_keys(r, board_key)
    )
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        if redis_roles.is_cluster(r):  # one slot (the board's hash tag): DEL them on its node at once
            pipe = redis_roles.transaction(meta_key(board_key), client=r)
            pipe.delete(*chunk)
            pipe.execute()
        else:
            r.delete(*chunk)


def _close_redis_period(board_key: str, period: str, segments: list[str]) -> None:
    """After the archive committed: mark the period closed (the Lua write drops anything still arriving
    for it) and delete its live keys, atomically."""
    try:
        r = redis_roles.rankings_redis()
        keys = {k for p in ("lb", "lbm") for k in _scan(r, f"{p}:{{{board_key}}}:{period}:*", board_key)}
        keys |= {zkey(board_key, period, s).encode() for s in segments}
        keys |= {hkey(board_key, period, s).encode() for s in segments}
        pipe = redis_roles.transaction(closed_key(board_key, period), client=r)
        pipe.set(closed_key(board_key, period), "1", ex=CLOSED_TTL)
        pipe.delete(*keys)
        pipe.execute()
    except RedisError as e:
        log.warning("leaderboards: could not close %s/%s in Redis (%s); marked dirty", board_key, period, e)
        _mark_dirty(db.session.execute(db.select(Leaderboard.id).where(Leaderboard.key == board_key)).scalars())


def _drop_quietly(key: str) -> None:
    try:
        drop_redis(key)
    except RedisError as e:
        log.warning("leaderboards: could not drop Redis keys of %s (%s)", key, e)


def redis_step(writes: list, board_ids: set, redis_down: bool = False):
    """After commit, in the commit's Redis pipeline: the batch's Lua upserts. A board Redis missed is
    marked dirty and rebuilt from SQL on its next read."""

    def queue(pipe):
        if redis_down:
            log.warning("leaderboards: Redis down; boards %s marked dirty for a rebuild", sorted(board_ids))
            return lambda _replies: _mark_dirty(board_ids)
        queue_writes(pipe, writes)

        def done(replies):
            failed = (
                replies
                if isinstance(replies, Exception)
                else next((r for r in replies if isinstance(r, Exception)), None)
            )
            if failed is not None:
                log.warning("leaderboards: Redis write failed (%s); boards marked dirty, SQL stays the record", failed)
                _mark_dirty(board_ids)

        return done

    return queue
