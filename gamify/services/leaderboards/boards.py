"""Leaderboard configuration as read by everything else: look-ups, periods (current, open, their
bounds in a time zone) and the archive of finalised runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from ...engine import calendar as cal
from ...engine import leaderboards as engine
from ...extensions import db
from ...models import (
    Leaderboard,
    LeaderboardRun,
    LeaderboardScore,
)
from ...models._common import utcnow

GLOBAL = engine.GLOBAL


class LeaderboardError(ValueError):
    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(message)
        self.field, self.status = field, status


def by_key(key: str, active_only: bool = True) -> Optional[Leaderboard]:
    q = db.select(Leaderboard).where(Leaderboard.key == key)
    if active_only:
        q = q.where(Leaderboard.active.is_(True))
    return db.session.execute(q).scalar_one_or_none()


def by_id(board_id: int) -> Optional[Leaderboard]:
    return db.session.get(Leaderboard, board_id)


def all_boards() -> list[Leaderboard]:
    """Every board, inactive ones too, by key."""
    return list(db.session.execute(db.select(Leaderboard).order_by(Leaderboard.key)).scalars())


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


def has_started(board: Leaderboard, period: str, now: Optional[datetime] = None) -> bool:
    """Has the period begun somewhere on Earth (the first time zone, UTC+14)?"""
    if period == engine.ALL:
        return True
    return date.fromisoformat(period) <= cal.local_date(now or utcnow(), "Pacific/Kiritimati")


def archived_run(board: Leaderboard, day: date, segment: str = GLOBAL) -> Optional[LeaderboardRun]:
    """The finalised run of `board` that starts on `day` in `segment`, or None while that period is still
    open (it is then served live). A final period this segment had nobody in is an empty run; a day on
    which no run of the board starts is LeaderboardError("run", ..., 404)."""
    run = get_run(board, day, segment)
    if run is not None:
        return run
    if has_run(board, day):  # the period is final, this segment just had nobody in it
        return LeaderboardRun(
            leaderboard_id=board.id,
            segment=segment,
            period_start=day,
            period_end=engine.period_end(board.frequency, board.start_date, day),
            rankings=[],
            participants=0,
            finalised_at=utcnow(),
        )
    if (
        is_open(board, day.isoformat())
        and has_started(board, day.isoformat())
        and engine.period_start(board.frequency, board.start_date, day) == day
    ):
        return None  # still open: served live
    raise LeaderboardError("run", f"no run of '{board.key}' starts on {day.isoformat()}", 404)
