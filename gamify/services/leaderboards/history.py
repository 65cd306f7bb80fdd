"""The leaderboard record read back: a board's past runs, a page at a time (newest first), and a player's
rank history on a board, one entry per segment and local day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Optional

from ...engine import calendar as cal
from ...extensions import db
from ...models import Leaderboard, LeaderboardRankChange, LeaderboardRun, User


def runs_before(
    board: Leaderboard, segment: str, limit: int, before: Optional[date] = None
) -> tuple[list[LeaderboardRun], bool]:
    """Up to `limit` finalised runs of the board in `segment`, newest first, that began before `before`
    (where a previous page ended); and whether more follow."""
    q = db.select(LeaderboardRun).where(LeaderboardRun.leaderboard_id == board.id, LeaderboardRun.segment == segment)
    if before is not None:
        q = q.where(LeaderboardRun.period_start < before)
    rows = list(db.session.execute(q.order_by(LeaderboardRun.period_start.desc()).limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit


def rank_history(board: Leaderboard, user: User, start: date, end: date, segment: Optional[str] = None) -> list[dict]:
    """The player's rank on the board per segment and per local day from `start` to `end`, days with a
    change only: the rank at the end of the day (None: out of the ranking), the best rank reached that
    day, the period it counted in and how many changes there were. Segments in name order, "global"
    first; days oldest first."""
    since = cal.local_midnight_utc(start, user.timezone)
    until = cal.local_midnight_utc(end + timedelta(days=1), user.timezone)
    q = db.select(LeaderboardRankChange).where(
        LeaderboardRankChange.leaderboard_id == board.id,
        LeaderboardRankChange.user_id == user.id,
        LeaderboardRankChange.occurred_at >= since,
        LeaderboardRankChange.occurred_at < until,
    )
    if segment is not None:
        q = q.where(LeaderboardRankChange.segment == segment)
    rows = db.session.execute(q.order_by(LeaderboardRankChange.occurred_at, LeaderboardRankChange.id)).scalars()
    days: dict[str, dict[date, dict]] = {}
    for change in rows:
        day = cal.local_date(change.occurred_at, user.timezone)
        entry = days.setdefault(change.segment, {}).setdefault(
            day, {"date": day.isoformat(), "changes": 0, "best_rank": None}
        )
        entry["changes"] += 1
        entry["rank"], entry["period"] = change.new_rank, change.period
        if change.new_rank is not None and (entry["best_rank"] is None or change.new_rank < entry["best_rank"]):
            entry["best_rank"] = change.new_rank
    return [
        {"segment": seg, "days": [days[seg][d] for d in sorted(days[seg])]}
        for seg in sorted(days, key=lambda s: (s != "global", s))
    ]
