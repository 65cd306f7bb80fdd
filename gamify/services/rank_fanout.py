"""The rank fan-out: the rank changes of the players an event overtook (or let past), after the commit.

An event records the acting player's own rank change itself; the others' would make it write up to a
board's top N rows more, so it only logs each score change (`leaderboard_score_log`, in its
transaction). This consumer reads that log in commit order and writes, for every change, the rank
changes of the others it moved inside the board's top N (`leaderboard_rank_changes`) and their
`leaderboard.rank_changed` outbox events (which webhooks deliver), then deletes the rows it processed:
exactly once, in batches, safe to retry (all in one transaction per board and batch).

How the ranking at each logged change is known: scores and log rows are committed together, so one
consistent snapshot holds the current scores *and* every change not processed yet. Undoing those
changes (each player with a pending change back to the score its first pending row started from)
gives the ranking before them; replaying a batch of them in id order gives the ranking at every step.
Only the top of a ranking matters: with M players having pending changes, the current top N + M + 1
scores (ties included) hold everyone who can be inside the top N at any step. For one player, log ids
follow commit order (the player's row lock orders their events); across players any interleaving of
concurrent events is a valid order.

Consistency needs that snapshot: on PostgreSQL the batch runs in REPEATABLE READ, and a second consumer
of the same board either waits for the advisory lock or fails to serialise (its delete meets rows
another consumer already processed) and is retried; SQLite runs one writer at a time anyway.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from datetime import datetime
from typing import Optional

from sqlalchemy import delete, select, text
from sqlalchemy.exc import OperationalError

from .. import after_commit
from ..engine import leaderboards as engine
from ..extensions import db
from ..models import Leaderboard, LeaderboardScoreLog
from ..models._common import utcnow
from ..ops import telemetry
from ..pipeline import writes as writes_mod
from ..pipeline.sql import Dialect

log = logging.getLogger(__name__)

BATCH = 5000  # log rows per board and transaction
_LOCK_CLASS = 7211  # pg advisory lock namespace: (7211, board id) = that board's consumer


def pending_boards() -> list[int]:
    return list(db.session.execute(select(LeaderboardScoreLog.leaderboard_id).distinct()).scalars())


def run_all(max_batches: int = 1000) -> dict:
    """Process every pending log row, board by board (each batch commits). Returns counts."""
    out = {"processed": 0, "rank_changes": 0, "retried": 0}
    db.session.commit()
    for board_id in pending_boards():
        db.session.commit()
        for _ in range(max_batches):
            try:
                done, changes = process_board(board_id)
                db.session.commit()
            except OperationalError as e:  # another consumer won the race: its work stands
                db.session.rollback()
                if not _serialization_failure(e):
                    raise
                out["retried"] += 1
                break
            out["processed"] += done
            out["rank_changes"] += changes
            if done < BATCH:
                break
    return out


def _serialization_failure(e: OperationalError) -> bool:
    code = getattr(getattr(e, "orig", None), "sqlstate", None)
    return code in ("40001", "40P01")


def process_board(board_id: int, limit: Optional[int] = None) -> tuple[int, int]:
    """One batch of one board's log in the current (fresh) transaction; the caller commits.
    Returns (log rows processed, rank changes written); (0, 0) if another consumer holds the board."""
    limit = limit or BATCH
    session = db.session
    pg = session.get_bind().dialect.name == "postgresql"
    if pg:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        if not session.execute(
            text("SELECT pg_try_advisory_xact_lock(:c, :b)"), {"c": _LOCK_CLASS, "b": board_id}
        ).scalar():
            return 0, 0
    board = session.get(Leaderboard, board_id)
    rows = session.execute(
        select(
            LeaderboardScoreLog.id,
            LeaderboardScoreLog.period,
            LeaderboardScoreLog.segment,
            LeaderboardScoreLog.user_id,
            LeaderboardScoreLog.old_score,
            LeaderboardScoreLog.new_score,
            LeaderboardScoreLog.source_event_id,
            LeaderboardScoreLog.created_at,
        )
        .where(LeaderboardScoreLog.leaderboard_id == board_id)
        .order_by(LeaderboardScoreLog.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0, 0
    if board is None:  # pragma: no cover - deleting a board cascades to its log
        return len(rows), 0
    limit_n = max(1, board.participant_limit or 10)
    by_group: dict[tuple, list] = defaultdict(list)
    for r in rows:
        by_group[(r.period, r.segment)].append(r)
    now = utcnow()
    changes: list[dict] = []
    for (period, segment), group_rows in by_group.items():
        ranking = _Ranking.before(board_id, period, segment, limit_n)
        for r in group_rows:
            for user_id, before, after in ranking.apply(r.user_id, r.old_score, r.new_score):
                changes.append(
                    {
                        "board": board,
                        "period": period,
                        "segment": segment,
                        "user_id": user_id,
                        "previous": before,
                        "new": after,
                        "at": r.created_at,
                        "event_id": r.source_event_id,
                        "by": r.user_id,
                    }
                )
    _write(changes, now)
    lags = [(now - r.created_at).total_seconds() for r in rows]
    after_commit.defer(lambda: telemetry.rank_changes_lagged(lags))  # a batch rolled back was not done
    session.execute(
        delete(LeaderboardScoreLog).where(
            LeaderboardScoreLog.leaderboard_id == board_id, LeaderboardScoreLog.id <= rows[-1].id
        )
    )
    return len(rows), len(changes)


class _Ranking:
    """The top of one ranking, replayed change by change: (score, user) pairs kept sorted."""

    def __init__(self, scores: dict[int, float], limit: int):
        self.scores = scores
        self.limit = limit
        self.pairs = sorted((s, u) for u, s in scores.items())

    @classmethod
    def before(cls, board_id: int, period: str, segment: str, limit: int) -> "_Ranking":
        """The ranking before the oldest pending change: current scores, with every player that has a
        pending change (in this batch or a later one) back where their first pending change found them."""
        movers = dict(
            db.session.execute(
                text(
                    "SELECT l.user_id, l.old_score FROM leaderboard_score_log l JOIN (SELECT user_id, min(id) AS first "
                    "FROM leaderboard_score_log WHERE leaderboard_id = :b AND period = :p AND segment = :s "
                    "GROUP BY user_id) f ON f.first = l.id"
                ),
                {"b": board_id, "p": period, "s": segment},
            ).all()
        )
        top = limit + len(movers) + 1
        scores = dict(
            db.session.execute(
                text(
                    "SELECT user_id, score FROM leaderboard_scores WHERE leaderboard_id = :b AND period = :p AND "
                    "segment = :s AND score >= coalesce((SELECT score FROM leaderboard_scores "
                    "WHERE leaderboard_id = :b AND period = :p AND segment = :s "
                    "ORDER BY score DESC LIMIT 1 OFFSET :k), -1.0e308)"
                ),
                {"b": board_id, "p": period, "s": segment, "k": top - 1},
            ).all()
        )
        for user_id, old in movers.items():
            scores.pop(user_id, None)
            if old is not None:
                scores[user_id] = old
        return cls(scores, limit)

    def _above(self, score: float) -> int:
        """How many hold a strictly higher score."""
        return len(self.pairs) - bisect.bisect_right(self.pairs, (score, float("inf")))

    def apply(self, mover: int, old: Optional[float], new: Optional[float]) -> list[tuple[int, int, int]]:
        """Move `mover` from `old` to `new`; returns (user, rank before, rank after) of every other player
        whose competition rank changed inside the top `limit` (before or after)."""
        if self.scores.get(mover) != old:  # pragma: no cover - the log and the scores disagree
            log.warning(
                "rank fan-out: player %s at %r, log says %r; resynchronised", mover, self.scores.get(mover), old
            )
            self._set(mover, old)
        out = []
        bounds = engine.band_bounds(old, new)
        if bounds is not None:
            lo, hi, direction = bounds
            shift = 1 if direction == "up" else -1  # climbed past them: they drop a place
            # Others scoring in [lo, hi), from the highest down, while they can be in the top N.
            i = bisect.bisect_left(self.pairs, (hi, float("-inf"))) - 1
            while i >= 0 and self.pairs[i][0] >= lo:
                score, user = self.pairs[i]
                i -= 1
                if user == mover:
                    continue
                before = 1 + self._above(score)
                after = before + shift
                if before > self.limit and after > self.limit:
                    break  # everyone further down ranks lower still
                out.append((user, before, after))
        self._set(mover, new)
        return out

    def _set(self, user: int, score: Optional[float]) -> None:
        cur = self.scores.pop(user, None)
        if cur is not None:
            del self.pairs[bisect.bisect_left(self.pairs, (cur, user))]
        if score is not None:
            self.scores[user] = score
            bisect.insort(self.pairs, (score, user))


def _write(changes: list[dict], now: datetime) -> None:
    """The rank-change rows and their outbox events, through the event pipeline's bulk write (one
    statement, rows as one JSON parameter): building a multi-row INSERT in SQLAlchemy cost about half a
    millisecond per row, most of the fan-out's time."""
    if not changes:
        return
    writes = writes_mod.Writes()
    for c in changes:
        writes.add(
            "rank_changes",
            {
                "leaderboard_id": c["board"].id,
                "period": c["period"],
                "segment": c["segment"],
                "user_id": c["user_id"],
                "previous_rank": c["previous"],
                "new_rank": c["new"],
                "occurred_at": c["at"],
                "source_event_id": c["event_id"],
            },
        )
        writes.add(
            "domain_events",
            {
                "type": "leaderboard.rank_changed",
                "user_id": c["user_id"],
                "payload": {
                    "leaderboard": c["board"].key,
                    "period": c["period"],
                    "segment": c["segment"],
                    "previous_rank": c["previous"],
                    "new_rank": c["new"],
                    "by_user_id": c["by"],
                },
                "source_event_id": c["event_id"],
                "created_at": now,
            },
        )
    conn = db.session.connection()
    writes_mod.flush(conn, Dialect(conn.dialect.name), writes)
    after_commit.request("outbox")  # the dispatcher turns the events into webhooks
