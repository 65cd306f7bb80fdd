"""Leaderboards in the event pipeline: the acting player's scores, rank and rank change.

In the batch's transaction: the active boards are read FOR SHARE (finalisation and rebuilds lock them
FOR UPDATE, so an event lands wholly before or after them), the players' score rows are loaded with
everything else, new scores are computed per board, period and segment, and written with the batch,
together with one row per score change in `leaderboard_score_log`. After the commit the Redis sorted
sets are updated and the rank fan-out is asked for: a worker reads that log in commit order and
records the rank changes of the players each change overtook (`services.rank_fanout`).

The acting player's rank before and after each change is counted, for the response, against Redis
(ZCOUNT of strictly higher scores, one pipeline for the whole batch) or, where Redis has no clean copy,
against SQL. Redis holds the state before the batch; the changes of players moved earlier in the same
batch are accounted for in memory (`_Group`), so every event sees the ranking as if the events before
it had been committed one by one.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Optional

from redis.exceptions import RedisError
from sqlalchemy import text

from .. import after_commit, redis_roles
from ..engine import leaderboards as engine
from ..services import leaderboards as lb_svc
from .base import EventCtx, Feature, Part, Run
from .sql import BOOL, DATE, DATETIME, FLOAT, INT, JSON, TEXT

log = logging.getLogger(__name__)
GLOBAL = engine.GLOBAL


@dataclass
class Board:
    id: int
    key: str
    ranked_by: str
    metric_id: Optional[int]
    system_id: Optional[int]
    frequency: str
    start_date: Optional[date]
    participant_limit: int
    breakdown: list
    current_period_start: Optional[date]
    redis_dirty: bool

    @property
    def repeating(self) -> bool:
        return self.frequency != engine.PERPETUAL


@dataclass
class Score:
    score: float
    achieved_at: datetime
    version: int


class _Group:
    """One ranking (board, period, segment) during a batch: players moved so far, with the score Redis
    holds for them (before the batch) and their score now, as sorted lists for counting."""

    __slots__ = ("moved", "pre", "cur")

    def __init__(self):
        self.moved: dict[int, list] = {}
        self.pre: list[float] = []
        self.cur: list[float] = []

    def adjustment(self, s: float) -> int:
        """Players strictly above `s` now, minus those Redis (the state before the batch) counts."""
        return (len(self.cur) - bisect.bisect_right(self.cur, s)) - (len(self.pre) - bisect.bisect_right(self.pre, s))

    def move(self, user_id: int, old: Optional[float], new: Optional[float]) -> None:
        entry = self.moved.get(user_id)
        if entry is None:
            entry = self.moved[user_id] = [old, old]
            if old is not None:
                bisect.insort(self.pre, old)
                bisect.insort(self.cur, old)
        if entry[1] is not None:
            del self.cur[bisect.bisect_left(self.cur, entry[1])]
        if new is not None:
            bisect.insort(self.cur, new)
        entry[1] = new


@dataclass
class _Probe:
    """Count players strictly above `score` in ranking `group` (Redis or SQL, plus `adjust`)."""

    board: Board
    period: str
    segment: str
    score: float
    adjust: int
    rank: Optional[int] = None


@dataclass
class _Entry:
    """One ranking a player's event touched: response entry and, if the rank moved, a change."""

    ctx: EventCtx
    board: Board
    period: str
    segment: str
    old: Optional[float]
    new: Optional[float]
    old_probe: Optional[_Probe]
    new_probe: Optional[_Probe]
    response: Optional[dict] = None


@dataclass
class _LbRun:
    boards: list
    groups: dict = field(default_factory=dict)
    probes: list = field(default_factory=list)
    entries: list = field(default_factory=list)
    redis_writes: list = field(default_factory=list)
    touched: set = field(default_factory=set)  # board ids written


_BOARD_COLUMNS = [
    ("id", "b.id", INT),
    ("key", "b.key", TEXT),
    ("ranked_by", "b.ranked_by", TEXT),
    ("metric_id", "b.metric_id", INT),
    ("system_id", "b.system_id", INT),
    ("frequency", "b.frequency", TEXT),
    ("start_date", "b.start_date", DATE),
    ("participant_limit", "b.participant_limit", INT),
    ("breakdown", "b.breakdown", JSON),
    ("current_period_start", "b.current_period_start", DATE),
    ("redis_dirty", "b.redis_dirty", BOOL),
]


_SCORE_COLUMNS = [
    ("leaderboard_id", "s.leaderboard_id", INT),
    ("period", "s.period", TEXT),
    ("segment", "s.segment", TEXT),
    ("user_id", "s.user_id", INT),
    ("score", "s.score", FLOAT),
    ("achieved_at", "s.achieved_at", DATETIME),
    ("version", "s.version", INT),
]


class Leaderboards(Feature):
    name = "leaderboards"

    def lock(self, run: Run) -> list[Part]:
        """The active boards, FOR SHARE: finalisation and rebuilds lock them FOR UPDATE, so an event's
        scores land wholly before or wholly after them."""
        cols = ", ".join(c for c, _e, _k in _BOARD_COLUMNS)
        share = " FOR SHARE" if run.dialect.pg else ""
        return [
            Part(
                "boards",
                _BOARD_COLUMNS,
                f"(SELECT {cols} FROM leaderboards WHERE active = true ORDER BY key{share}) AS b",
            )
        ]

    def locked(self, run: Run, rows: dict) -> None:
        boards = [
            Board(
                r["id"],
                r["key"],
                r["ranked_by"],
                r["metric_id"],
                r["system_id"],
                r["frequency"],
                r["start_date"],
                max(1, r["participant_limit"] or 10),
                list(r["breakdown"] or []),
                r["current_period_start"],
                bool(r["redis_dirty"]),
            )
            for r in rows.get("boards", [])
        ]
        boards.sort(key=lambda b: b.key)
        run.state["lb"] = _LbRun(boards)

    def load(self, run: Run) -> list[Part]:
        lbr: _LbRun = run.state["lb"]
        if not lbr.boards:
            return []
        d = run.dialect
        starts = [b.current_period_start or b.start_date for b in lbr.boards if b.repeating]
        starts = [s for s in starts if s is not None]
        # Open periods only: "all" (perpetual) sorts after every ISO date, so one bound keeps both.
        oldest = min(starts).isoformat() if starts else "0000-00-00"
        return [
            Part(
                "lb_scores",
                _SCORE_COLUMNS,
                f"leaderboard_scores s WHERE {d.in_list('s.user_id', 'uids')} AND "
                f"{d.in_list('s.leaderboard_id', 'board_ids')} AND s.period >= :lb_oldest",
                {
                    "uids": d.list_param(sorted(run.players)),
                    "board_ids": d.list_param([b.id for b in lbr.boards]),
                    "lb_oldest": oldest,
                },
            )
        ]

    def loaded(self, run: Run, rows: dict) -> None:
        for p in run.players.values():
            p.state["lb"] = {}
        for r in rows.get("lb_scores", []):
            run.players[r["user_id"]].state["lb"].setdefault((r["leaderboard_id"], r["period"]), {})[r["segment"]] = (
                Score(r["score"], r["achieved_at"], r["version"])
            )

    # -- an event ----------------------------------------------------------------------------

    def apply(self, ctx: EventCtx) -> None:
        lbr: _LbRun = ctx.run.state["lb"]
        ctx.response["leaderboards"] = []
        if not lbr.boards:
            return
        player = ctx.player
        mine = player.state.setdefault("lb", {})
        for b in lbr.boards:
            counts, start = engine.place(b.frequency, b.start_date, b.current_period_start, ctx.local_date)
            if not counts:
                continue
            period = engine.period_key(start)
            have = mine.setdefault((b.id, period), {})
            glob = have.get(GLOBAL)
            old = glob.score if glob else None
            new = _new_score(b, ctx, old)
            if new is None and glob is None:
                continue  # not on this board, and this event does not put the player on it
            score = old if new is None else new
            targets = engine.segments_for(player.attributes, b.breakdown)
            moves = [(seg, have[seg].score if seg in have else None, score) for seg in targets]
            moves += [(seg, row.score, None) for seg, row in have.items() if seg not in targets]
            changed = [m for m in moves if m[1] != m[2]]
            if changed:
                self._write(ctx, lbr, b, period, have, glob, score, changed)
            for seg, o, n in moves:
                self._probe(ctx, lbr, b, period, seg, o, n)

    def _write(
        self,
        ctx: EventCtx,
        lbr: _LbRun,
        b: Board,
        period: str,
        have: dict,
        glob: Optional[Score],
        score: float,
        changed: list,
    ) -> None:
        run, uid, now = ctx.run, ctx.player.id, ctx.now
        score_moved = glob is None or glob.score != score
        achieved = now if score_moved else glob.achieved_at
        version = (glob.version + 1) if glob else 1
        member = engine.encode_member(uid, achieved)
        lbr.touched.add(b.id)
        if glob is not None:  # the version lives on the global row, even if only a segment moved
            glob.version = version
            if changed[0][0] != GLOBAL:  # (the global segment comes first when it moved)
                run.writes.add("leaderboard_scores", _score_row(b.id, period, GLOBAL, uid, glob, now))
        for seg, o, n in changed:
            if n is None:
                del have[seg]
                run.writes.add(
                    "leaderboard_scores_gone",
                    {"leaderboard_id": b.id, "period": period, "segment": seg, "user_id": uid},
                )
            else:
                have[seg] = Score(n, achieved, version)
                run.writes.add("leaderboard_scores", _score_row(b.id, period, seg, uid, have[seg], now))
            lbr.redis_writes.append(lb_svc._Write(b.key, period, seg, uid, version, n, member))
            run.writes.add(
                "score_log",
                {
                    "leaderboard_id": b.id,
                    "period": period,
                    "segment": seg,
                    "user_id": uid,
                    "old_score": o,
                    "new_score": n,
                    "source_event_id": ctx.event_id,
                    "created_at": now,
                },
            )

    def _probe(
        self, ctx: EventCtx, lbr: _LbRun, b: Board, period: str, seg: str, old: Optional[float], new: Optional[float]
    ) -> None:
        group = lbr.groups.get((b.id, period, seg))
        if group is None:
            group = lbr.groups[(b.id, period, seg)] = _Group()
        old_probe = new_probe = None
        if old is not None:
            old_probe = _Probe(b, period, seg, old, group.adjustment(old))
            lbr.probes.append(old_probe)
        if old != new:
            group.move(ctx.player.id, old, new)
        if new is not None:
            new_probe = _Probe(b, period, seg, new, group.adjustment(new))
            lbr.probes.append(new_probe)
        entry = _Entry(ctx, b, period, seg, old, new, old_probe, new_probe)
        if new is not None:
            entry.response = {
                "key": b.key,
                "segment": seg,
                "period": period,
                "rank": None,
                "score": _num(new),
                "previous_rank": None,
            }
            ctx.response["leaderboards"].append(entry.response)
        lbr.entries.append(entry)

    def replay(self, ctx: EventCtx) -> None:
        """A repeated event reports the player's current ranks (previous_rank = rank: nothing moved)."""
        lbr: _LbRun = ctx.run.state["lb"]
        ctx.response["leaderboards"] = []
        mine = ctx.player.state.setdefault("lb", {})
        for b in sorted(lbr.boards, key=lambda b: b.id):
            period = engine.ALL
            if b.repeating:
                counts, start = engine.place(b.frequency, b.start_date, b.current_period_start, ctx.local_date)
                period = engine.period_key(start if counts else b.current_period_start or b.start_date)
            rows = mine.get((b.id, period), {})
            for seg in sorted(rows, key=lambda s: (s != GLOBAL, s)):
                group = lbr.groups.setdefault((b.id, period, seg), _Group())
                probe = _Probe(b, period, seg, rows[seg].score, group.adjustment(rows[seg].score))
                lbr.probes.append(probe)
                response = {
                    "key": b.key,
                    "segment": seg,
                    "period": period,
                    "rank": None,
                    "score": _num(rows[seg].score),
                    "previous_rank": None,
                }
                ctx.response["leaderboards"].append(response)
                lbr.entries.append(
                    _Entry(ctx, b, period, seg, rows[seg].score, rows[seg].score, probe, probe, response)
                )

    # -- the whole batch ---------------------------------------------------------------------

    def finish(self, run: Run) -> None:
        lbr: _LbRun = run.state.get("lb")
        if lbr is None or not lbr.boards:
            return
        redis_down = _count(run, lbr)
        for e in lbr.entries:
            old_rank = e.old_probe.rank if e.old_probe else None
            new_rank = e.new_probe.rank if e.new_probe else None
            if e.response is not None:
                e.response["rank"] = new_rank
                e.response["previous_rank"] = old_rank if e.old_probe is not e.new_probe else new_rank
            if e.old_probe is e.new_probe or old_rank == new_rank:
                continue
            ctx = e.ctx
            run.writes.add(
                "rank_changes",
                {
                    "leaderboard_id": e.board.id,
                    "period": e.period,
                    "segment": e.segment,
                    "user_id": ctx.player.id,
                    "previous_rank": old_rank,
                    "new_rank": new_rank,
                    "occurred_at": ctx.now,
                    "source_event_id": ctx.event_id,
                },
            )
            run.emit(
                "leaderboard.rank_changed",
                ctx.player.id,
                {
                    "leaderboard": e.board.key,
                    "period": e.period,
                    "segment": e.segment,
                    "previous_rank": old_rank,
                    "new_rank": new_rank,
                    **({"score": _num(e.new)} if e.new is not None else {}),
                },
                ctx.event_id,
                ctx.now,
            )
        if lbr.touched:
            after_commit.defer_redis(
                lb_svc.redis_step(list(lbr.redis_writes), set(lbr.touched), redis_down), role="rankings"
            )
            after_commit.request("leaderboards.fanout")


def _count(run: Run, lbr: _LbRun) -> bool:
    """Fill every probe's rank: Redis where it holds a clean copy of the board (one pipeline, with the
    boards' markers), SQL for the rest (one statement). Returns True when Redis was unreachable."""
    probes = lbr.probes
    boards = {p.board.id: p.board for p in probes}
    usable = {bid: False for bid in boards}
    down = False
    clean = [b for b in boards.values() if not b.redis_dirty]
    counts: dict[tuple, int] = {}
    if clean:
        keys = sorted({(p.board.key, p.period, p.segment, p.score) for p in probes if not p.board.redis_dirty})
        try:
            pipe = redis_roles.pipeline()
            lb_svc._queue_markers(pipe, clean)
            for key, period, seg, score in keys:
                pipe.zcount(lb_svc.zkey(key, period, seg), "(" + lb_svc._f(score), "+inf")
            results = pipe.execute()
            usable.update({b.id: bool(x) for b, x in zip(clean, results)})
            counts = dict(zip(keys, results[len(clean) :]))
        except RedisError as e:
            log.warning("leaderboards: Redis unavailable during an event (%s); ranking from SQL", e)
            usable, down = {bid: False for bid in boards}, True
        if not down and not all(usable[b.id] for b in clean):
            # Redis is up but lacks a clean copy of some board: events pay SQL counts until it is rebuilt.
            after_commit.request("leaderboards.rebuild")
    sql_probes = [p for p in probes if not usable[p.board.id]]
    if sql_probes:
        counts.update(_sql_counts(run, sql_probes))
    for p in probes:
        above = counts[(p.board.key, p.period, p.segment, p.score)]
        p.rank = 1 + above + p.adjust
    return down


_SQL_COUNT: dict[str, object] = {}


def _sql_counts(run: Run, probes: list[_Probe]) -> dict[tuple, int]:
    d = run.dialect
    stmt = _SQL_COUNT.get(d.name)
    if stmt is None:
        stmt = _SQL_COUNT[d.name] = text(
            f"SELECT x.i, (SELECT count(*) FROM leaderboard_scores s WHERE s.leaderboard_id = x.lb "
            f"AND s.period = x.period AND s.segment = x.segment AND s.score > x.score) FROM "
            f"(SELECT {d.field('i', INT)} AS i, {d.field('lb', INT)} AS lb, {d.field('period', TEXT)} AS period, "
            f"{d.field('segment', TEXT)} AS segment, {d.field('score', FLOAT)} AS score "
            f"FROM {d.rows_from('probes')}) AS x"
        )
    keys = sorted({(p.board.key, p.period, p.segment, p.score, p.board.id) for p in probes})
    rows = [{"i": i, "lb": k[4], "period": k[1], "segment": k[2], "score": k[3]} for i, k in enumerate(keys)]
    got = dict(run.conn.execute(stmt, {"probes": d.dumps(rows)}).all())
    return {k[:4]: int(got[i]) for i, k in enumerate(keys)}


def _score_row(board_id: int, period: str, segment: str, user_id: int, s: Score, now: datetime) -> dict:
    return {
        "leaderboard_id": board_id,
        "period": period,
        "segment": segment,
        "user_id": user_id,
        "score": s.score,
        "achieved_at": s.achieved_at,
        "version": s.version,
        "updated_at": now,
    }


def _num(x: Optional[float]):
    return lb_svc._num(x)


def _new_score(board: Board, ctx: EventCtx, old: Optional[float]) -> Optional[float]:
    """The player's score on `board` after this event, or None if the event does not touch it."""
    if board.ranked_by == "metric":
        if board.metric_id != ctx.metric.id:
            return None
        if not board.repeating:
            return float(ctx.new_total)
        return (old or 0.0) + ctx.value
    if board.ranked_by == "points":
        system = ctx.run.snap.systems.get(board.system_id)
        if system is None:
            return None
        entry = (ctx.points or {}).get(system.key)
        if not entry:
            return None
        if not board.repeating:  # the balance itself (so spends made elsewhere catch up here)
            total = float(entry.get("total") or 0)
            return total if (old is not None or entry.get("added") or total) else None
        added = float(entry.get("added") or 0)
        return (old or 0.0) + added if added else None
    if board.ranked_by == "streak":
        if ctx.streak_length is None:
            return None
        length = float(ctx.streak_length)
        return length if (old is not None or length > 0) else None
    return None


__all__ = ["Leaderboards", "DATE", "JSON"]
