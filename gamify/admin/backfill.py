"""Activating an achievement = status active + silent backfill for players who already qualify.

Small installations (players <= BACKFILL_INLINE_LIMIT) run it inside the request; larger ones get a
BackfillRun row and an RQ job (`run_job`) that commits progress as it goes, which the admin page polls.
The backfill is idempotent, so a failed or interrupted run can simply be started again. The runs
themselves are gamify.services.backfill's; this module owns their transactions."""

from __future__ import annotations

from typing import Optional

from flask import current_app, has_app_context

from .. import create_app, queue
from ..extensions import db
from ..models import Achievement, BackfillRun
from ..services import achievements as achievements_svc
from ..services import backfill as backfill_svc


def should_run_inline() -> bool:
    limit = int(current_app.config.get("BACKFILL_INLINE_LIMIT", 500))
    return achievements_svc.player_count() <= limit


def start(achievement: Achievement, admin_id: Optional[int]) -> BackfillRun:
    """Activate now (inline) or enqueue. Raises RuntimeError if the queue is unreachable (the achievement
    is then left as it was)."""
    if should_run_inline():
        return backfill_svc.run_inline(achievement, admin_id)

    run_id = backfill_svc.queue_run(achievement, admin_id).id
    # The worker loads the run by its id in a session of its own: it must be committed before the job exists.
    db.session.commit()
    try:
        job = queue.enqueue("gamify.admin.backfill.run_job", run_id, queue="default")
    except Exception as e:  # Redis down: say so, keep nothing half-done
        backfill_svc.fail_if_queued(run_id, f"could not reach the job queue: {e}")
        raise RuntimeError(f"The job queue is not reachable ({e}). Nothing was changed; try again.") from e
    return backfill_svc.record_job(run_id, str(job.id) if job is not None else None)


def run_job(run_id: int) -> Optional[int]:
    """RQ entry point (also runs inline when RQ_ASYNC is off)."""
    if has_app_context():
        return _run(run_id)

    with create_app().app_context():
        return _run(run_id)


def _run(run_id: int) -> Optional[int]:
    run = backfill_svc.claim(run_id)
    if run is None:
        return None  # already handled by another worker
    # Commit as we go: the page polls the status and the numbers, and what is written stays written (a
    # re-run skips it).
    db.session.commit()
    try:
        added = backfill_svc.execute(run, run.achievement, after_progress=db.session.commit)
        db.session.commit()
        return added
    except Exception as e:
        db.session.rollback()
        current_app.logger.exception("backfill run %s failed", run_id)
        backfill_svc.mark_failed(run_id, str(e)[:2000] or e.__class__.__name__)
        db.session.commit()
        return None
