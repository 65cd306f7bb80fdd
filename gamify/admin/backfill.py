"""Activating an achievement = status active + silent backfill for players who already qualify.

Small installations (players <= BACKFILL_INLINE_LIMIT) run it inside the request; larger ones get a
BackfillRun row and an RQ job (`run_job`) that commits progress as it goes, which the admin page polls.
The backfill is idempotent, so a failed or interrupted run can simply be started again."""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

from flask import current_app, has_app_context

from .. import create_app
from ..extensions import db
from ..models import Achievement, BackfillRun
from ..models._common import utcnow
from ..queue import enqueue
from ..services import achievements as achievements_svc

STALE_AFTER = timedelta(minutes=30)


def active_run(achievement_id: int) -> Optional[BackfillRun]:
    run = db.session.execute(
        db.select(BackfillRun)
        .where(BackfillRun.achievement_id == achievement_id, BackfillRun.status.in_(("queued", "running")))
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


def should_run_inline() -> bool:
    limit = int(current_app.config.get("BACKFILL_INLINE_LIMIT", 500))
    return achievements_svc.player_count() <= limit


def start(achievement: Achievement, admin_id: Optional[int]) -> BackfillRun:
    """Activate now (inline) or enqueue. Commits. Raises RuntimeError if the queue is unreachable
    (the achievement is then left as it was)."""
    if should_run_inline():
        run = BackfillRun(
            achievement_id=achievement.id,
            status="running",
            mode="inline",
            created_by_id=admin_id,
            started_at=utcnow(),
            processed=0,
        )
        db.session.add(run)

        def progress(done, total):
            run.processed, run.total = done, total

        run.added = achievements_svc.activate([achievement], on_progress=progress)
        run.total = run.total if run.total is not None else run.added
        run.processed = max(run.processed or 0, run.total or 0)
        run.status, run.finished_at = "done", utcnow()
        db.session.commit()
        return run

    run = BackfillRun(achievement_id=achievement.id, status="queued", mode="job", created_by_id=admin_id, processed=0)
    db.session.add(run)
    db.session.commit()
    try:
        job = enqueue("gamify.admin.backfill.run_job", run.id, queue="default")
    except Exception as e:  # Redis down: say so, keep nothing half-done
        run = db.session.get(BackfillRun, run.id)
        if run.status == "queued":
            run.status, run.error, run.finished_at = "failed", f"could not reach the job queue: {e}", utcnow()
            db.session.commit()
        raise RuntimeError(f"The job queue is not reachable ({e}). Nothing was changed; try again.") from e
    run = db.session.get(BackfillRun, run.id)
    if run.job_id is None and job is not None:
        run.job_id = str(job.id)[:64]
        db.session.commit()
    return run


def run_job(run_id: int) -> Optional[int]:
    """RQ entry point (also runs inline when RQ_ASYNC is off)."""
    if has_app_context():
        return _run(run_id)

    with create_app().app_context():
        return _run(run_id)


def _run(run_id: int) -> Optional[int]:
    run = db.session.get(BackfillRun, run_id)
    if run is None or run.status != "queued":
        return None  # already handled by another worker
    run.status, run.started_at = "running", utcnow()
    db.session.commit()
    achievement = db.session.get(Achievement, run.achievement_id)

    def progress(done, total):
        # Commit as we go: the page polls these numbers, and what is written stays written (a re-run skips it).
        run.processed, run.total = done, total
        db.session.commit()

    try:
        added = achievements_svc.activate([achievement], on_progress=progress)
        run.added = added
        run.total = run.total if run.total is not None else added
        run.processed = max(run.processed or 0, run.total or 0)
        run.status, run.finished_at = "done", utcnow()
        db.session.commit()
        return added
    except Exception as e:
        db.session.rollback()
        current_app.logger.exception("backfill run %s failed", run_id)
        run = db.session.get(BackfillRun, run_id)
        run.status, run.error, run.finished_at = "failed", str(e)[:2000] or e.__class__.__name__, utcnow()
        db.session.commit()
        return None
