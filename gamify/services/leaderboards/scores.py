"""Score changes that happen outside events. A streak lost when it is settled (by a read or the
scheduled settlement) drops the player's score on every streak board to 0 then, not at their next
event: a player whose streak is gone must not keep leading "longest current streak"; a lost streak
restored through the API puts the length back the same way. Written as the
event pipeline writes scores: the score rows, a score-log row per change (so the rank fan-out tells the
players who move up), and the Redis copy after the commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ... import after_commit
from ...engine import leaderboards as engine
from ...extensions import db
from ...models import LeaderboardScore, LeaderboardScoreLog
from .boards import active_boards, is_open
from .store import _Write, redis_step


def streak_lost(user_id: int, now: datetime) -> int:
    """Set the player's open-period scores on streak boards to 0; returns how many rows changed."""
    return _set_streak_score(user_id, 0.0, now)


def streak_restored(user_id: int, length: int, now: datetime) -> int:
    """Put a restored streak's length back on the open-period rows of streak boards the player is on
    (a board they are not on yet gets them at their next event, as any streak does)."""
    return _set_streak_score(user_id, float(length), now)


def _set_streak_score(user_id: int, score: float, now: datetime) -> int:
    boards = {b.id: b for b in active_boards() if b.ranked_by == "streak"}
    if not boards:
        return 0
    rows = (
        db.session.execute(
            select(LeaderboardScore)
            .where(LeaderboardScore.user_id == user_id, LeaderboardScore.leaderboard_id.in_(sorted(boards)))
            .order_by(LeaderboardScore.leaderboard_id, LeaderboardScore.period, LeaderboardScore.segment)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    by_period: dict[tuple[int, str], list[LeaderboardScore]] = {}
    for row in rows:
        if is_open(boards[row.leaderboard_id], row.period):
            by_period.setdefault((row.leaderboard_id, row.period), []).append(row)
    writes, touched = [], set()
    for (board_id, period), group in by_period.items():
        if all(r.score == score for r in group):
            continue
        version = max(r.version or 0 for r in group) + 1  # one version per player and period, as events do
        member = engine.encode_member(user_id, now)
        for row in group:
            if row.score != score:
                db.session.add(
                    LeaderboardScoreLog(
                        leaderboard_id=board_id,
                        period=period,
                        segment=row.segment,
                        user_id=user_id,
                        old_score=row.score,
                        new_score=score,
                        source_event_id=None,
                        created_at=now,
                    )
                )
            row.score, row.achieved_at, row.version, row.updated_at = score, now, version, now
            writes.append(_Write(boards[board_id].key, period, row.segment, user_id, version, score, member))
        touched.add(board_id)
    if writes:
        after_commit.defer_redis(redis_step(writes, touched), role="rankings")
        after_commit.request("leaderboards.fanout")
    return len(writes)
