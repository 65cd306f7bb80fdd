"""Closing periods: once a period has ended in every time zone, its final rankings are archived as runs
(with their events), and the Redis copy of the period is closed."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Optional

from sqlalchemy import func, select

from ... import after_commit
from ...engine import leaderboards as engine
from ...extensions import db
from ...models import (
    Leaderboard,
    LeaderboardRun,
    LeaderboardScore,
    User,
)
from ...models._common import utcnow
from .. import outbox
from .boards import GLOBAL
from .store import _close_redis_period, _limit, _lock, _num


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
