"""Backfill runs: the BackfillRun rows that record an achievement's activation (the silent backfill for
players who already qualify), finding them, and running the backfill on one."""

from __future__ import annotations

from datetime import timedelta
from typing import Callable, Optional

from flask import current_app

from ..extensions import db
from ..models import Achievement, BackfillRun
from ..models._common import utcnow
from . import achievements as achievements_svc

STALE_AFTER = timedelta(minutes=30)
ACTIVE = ("queued", "running")


def active_run(achievement_id: int) -> Optional[BackfillRun]:
    run = db.session.execute(
        db.select(BackfillRun)
        .where(BackfillRun.achievement_id == achievement_id, BackfillRun.status.in_(ACTIVE))
        .order_by(BackfillRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if run is not None and utcnow() - (run.started_at or run.created_at) > STALE_AFTER:
        return None  # a worker died: let the admin start again
    return run


def latest_run(achievement_id: int) -> Optional[BackfillRun]:
    return db.session.execute(
        db.select(BackfillRun)
        .where(BackfillRun.achievement_id == achievement_id)
        .order_by(BackfillRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def running_achievement_ids() -> set[int]:
    """Achievements with a queued or running backfill (stale ones included)."""
    return set(
        db.session.execute(db.select(BackfillRun.achievement_id).where(BackfillRun.status.in_(ACTIVE))).scalars()
    )


def delete_runs(achievement_id: int) -> None:
    db.session.execute(db.delete(BackfillRun).where(BackfillRun.achievement_id == achievement_id))


def execute(run: BackfillRun, achievement: Achievement, after_progress: Optional[Callable[[], None]] = None) -> int:
    """Activate `achievement` and backfill it, counting progress on `run` (then calling `after_progress`);
    the run ends done. Returns the completions written."""

    def progress(done, total):
        run.processed, run.total = done, total
        if after_progress is not None:
            after_progress()

    run.added = achievements_svc.activate([achievement], on_progress=progress)
    run.total = run.total if run.total is not None else run.added
    run.processed = max(run.processed or 0, run.total or 0)
    run.status, run.finished_at = "done", utcnow()
    return run.added


def should_run_inline() -> bool:
    """Small installations (players <= BACKFILL_INLINE_LIMIT) backfill inside the admin's request; larger
    ones get a background job and a progress bar."""
    limit = int(current_app.config.get("BACKFILL_INLINE_LIMIT", 500))
    return achievements_svc.player_count() <= limit


def run_inline(achievement: Achievement, admin_id: Optional[int]) -> BackfillRun:
    """Activate and backfill now, recorded as an inline run."""
    run = BackfillRun(
        achievement_id=achievement.id,
        status="running",
        mode="inline",
        created_by_id=admin_id,
        started_at=utcnow(),
        processed=0,
    )
    db.session.add(run)
    execute(run, achievement)
    return run


def queue_run(achievement: Achievement, admin_id: Optional[int]) -> BackfillRun:
    """A run waiting for a worker (flushed: the job is given its id)."""
    run = BackfillRun(achievement_id=achievement.id, status="queued", mode="job", created_by_id=admin_id, processed=0)
    db.session.add(run)
    db.session.flush()
    return run


def record_job(run_id: int, job_id: Optional[str]) -> BackfillRun:
    """Note the queue's job id on the run (unless the job already did)."""
    run = db.session.get(BackfillRun, run_id)
    if run.job_id is None and job_id is not None:
        run.job_id = job_id[:64]
    return run


def claim(run_id: int) -> Optional[BackfillRun]:
    """Mark a queued run running for this worker; None when it is gone or another worker has it."""
    run = db.session.get(BackfillRun, run_id)
    if run is None or run.status != "queued":
        return None
    run.status, run.started_at = "running", utcnow()
    return run


def mark_failed(run_id: int, error: str) -> None:
    run = db.session.get(BackfillRun, run_id)
    run.status, run.error, run.finished_at = "failed", error, utcnow()


def fail_if_queued(run_id: int, error: str) -> bool:
    """The job could not be queued: a run still waiting ends failed. True when it was marked."""
    run = db.session.get(BackfillRun, run_id)
    if run.status != "queued":
        return False
    mark_failed(run_id, error)
    return True
