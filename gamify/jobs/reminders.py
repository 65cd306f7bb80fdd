"""Recurring jobs that select e-mails for players: streak reminders in their local evening,
weekly recaps (each row then goes by push or e-mail: push.enqueue_deliveries).
"""

from __future__ import annotations

from ..extensions import db
from ..models._common import utcnow
from ..services import reminders
from .base import app_job
from .push import enqueue_deliveries


@app_job
def streak_reminders() -> int:
    """Every 15 min: reminder rows for at-risk players in their local evening (idempotent), one
    mail job each, longest streaks first."""

    ids = reminders.select_streak_reminders(utcnow())
    db.session.commit()
    enqueue_deliveries(ids)
    return len(ids)


@app_job
def weekly_recaps() -> int:

    ids = reminders.prepare_recaps(utcnow())
    db.session.commit()
    enqueue_deliveries(ids)
    return len(ids)
