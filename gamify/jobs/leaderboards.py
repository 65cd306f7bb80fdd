"""Leaderboard jobs: the Redis copy restored when events found it missing (request_rebuild,
rebuild_leaderboards), periods finalised once they ended in every time zone (finalise_leaderboards).
"""

from __future__ import annotations

from ..extensions import db
from ..services import leaderboards
from .base import _optional, _safe, app_job, enqueue_unique
from .dispatch import request_dispatch


def request_rebuild() -> None:
    """after_commit topic "leaderboards.rebuild": restore boards whose Redis copy is missing."""
    _safe("leaderboard rebuild", lambda: enqueue_unique(rebuild_leaderboards, job_id="leaderboards-rebuild"))


@app_job
def rebuild_leaderboards() -> str:
    """Restore the Redis copy of boards that lost it (enqueued by events that found it missing)."""

    done = leaderboards.rebuild(only_if_needed=True)
    db.session.commit()
    return f"rebuilt: {done}"


@app_job
def finalise_leaderboards(now=None) -> str:
    """Every 5 minutes: archive the periods that have ended in every time zone."""
    fn = _optional("gamify.services.leaderboards", "finalise_due")
    if fn is None:
        return "skipped: gamify.services.leaderboards is not installed"
    done = fn(now)
    db.session.commit()
    request_dispatch()
    return f"done: {len(done)} period(s) finalised"
