"""Creating, changing and deleting boards: validation, and recomputing a board's open periods from the
ledgers when what it ranks by changes."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Optional

from sqlalchemy import delete

from ... import after_commit
from ...engine import calendar as cal
from ...engine import leaderboards as engine
from ...extensions import db
from ...models import (
    Leaderboard,
    LeaderboardRankChange,
    LeaderboardRun,
    LeaderboardScore,
    LeaderboardScoreLog,
    Metric,
    MetricEvent,
    MetricTotal,
    PointsAward,
    PointsBalance,
    PointsSystem,
    User,
    UserStreak,
)
from ...models._common import utcnow
from .boards import LeaderboardError, by_key, open_period_filter
from .finalise import _emit_started
from .store import _drop_quietly, _lock


def _recompute_rows(board: Leaderboard, now: datetime) -> list[dict]:
    """Scores of the board's open periods computed from the ledgers (for new or reconfigured boards)."""

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
