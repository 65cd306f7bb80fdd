"""Jobs that change players' progress outside events: lapsed streak periods closed near local
midnight (settle_streaks), time-interval and local-midnight points (time_interval_points), an achievement's
backfill (run_backfill).
"""

from __future__ import annotations

import logging
from typing import Optional

from ..extensions import db
from ..models import User, UserStreak
from ..models._common import utcnow
from ..services import backfill, points, streaks
from .base import app_job
from .dispatch import request_dispatch

log = logging.getLogger(__package__)  # "gamify.jobs" (see base)


@app_job
def settle_streaks(batch: int = 200) -> int:
    """Every 15 min: close lapsed streak periods, so freezes are consumed and `streak.lost` fires
    close to each player's local midnight (not only when they come back)."""

    now = utcnow()
    config = streaks.get_config()
    if config is None or not config.enabled:
        return 0
    # A period needs closing only if last_covered is before the player's local yesterday, which is
    # always before today's UTC date.
    ids = list(
        db.session.execute(
            db.select(UserStreak.user_id).where(UserStreak.length > 0, UserStreak.last_covered < now.date())
        ).scalars()
    )
    db.session.commit()
    closed = 0
    for i in range(0, len(ids), batch):
        chunk = list(db.session.execute(db.select(User).where(User.id.in_(ids[i : i + batch]))).scalars())
        closed += sum(1 for change in streaks.settle_users(chunk, now) if change is not None and change.periods)
        db.session.commit()
    if closed:
        request_dispatch()
    return closed


@app_job
def time_interval_points() -> int:

    now = utcnow()
    n = points.run_time_interval_triggers(now) + points.run_local_midnight_triggers(now)
    db.session.commit()
    if n:
        request_dispatch()
    return n


@app_job
def run_backfill(run_id: int) -> Optional[int]:
    """An achievement's backfill in the background (admin "Activate" on a large installation). Commits as
    it goes: the admin page polls the status and the numbers, and what is written stays written (a re-run
    after a failure skips it). Returns how many players received the achievement, None when another
    worker had the run or it failed (the failure is recorded on the run for the admin)."""
    run = backfill.claim(run_id)
    if run is None:
        return None
    db.session.commit()
    try:
        added = backfill.execute(run, run.achievement, after_progress=db.session.commit)
        db.session.commit()
        return added
    except Exception as e:
        db.session.rollback()
        log.exception("backfill run %s failed", run_id)
        backfill.mark_failed(run_id, str(e)[:2000] or e.__class__.__name__)
        db.session.commit()
        return None
