"""Player e-mails: streak reminders in the local evening, come-back mails after a lost streak,
achievement mails and the weekly recap.

Producers write an `EmailSend` row (the send ledger, UNIQUE per user/type/period/ref) in the caller's
transaction; the `deliver_email` job (gamify/jobs/emails.py, queue "mail") claims the row, re-checks that the
mail is still wanted (`compose`: the type's facts here, the words from the template picked for the
player, services/notification_templates), sends it over SMTP and only then marks it sent; marking
it sent or failed writes the delivery log (services/deliveries.py) in the same transaction. Like every service,
nothing here commits.

The modules, re-exported here: base (channels, Skip, the messaging settings, who wants what), producers (the
send rows: reminders, recaps, come-back and achievement mails, what is due), delivery (claiming a row and
recording its outcome), messages (compose: the send-time checks and the words of each type).
"""

from __future__ import annotations

from .base import (
    CHANNEL,
    CLAIM_TIMEOUT,
    DEFAULTS,
    MAX_PENDING_AGE,
    PUSH,
    WEEKDAYS,
    Skip,
    email_wanted,
    get_settings,
    update_settings,
    wants,
)
from .delivery import (
    claim,
    log_delivery,
    mark_failed,
    mark_sent,
    mark_skipped,
    mark_submitting,
    mark_unknown,
    release,
    settle_uncertain,
)
from .messages import Composed, achievement_facts, compose, recap_week, recipient, render_for
from .producers import (
    _add_sends,
    due_ids,
    on_domain_event,
    prepare_recaps,
    reactivation_steps,
    reminder_moment,
    select_streak_reminders,
)

__all__ = [
    "CHANNEL",
    "CLAIM_TIMEOUT",
    "Composed",
    "DEFAULTS",
    "MAX_PENDING_AGE",
    "PUSH",
    "Skip",
    "WEEKDAYS",
    "_add_sends",
    "achievement_facts",
    "claim",
    "compose",
    "due_ids",
    "email_wanted",
    "get_settings",
    "log_delivery",
    "mark_failed",
    "mark_sent",
    "mark_skipped",
    "mark_submitting",
    "mark_unknown",
    "on_domain_event",
    "prepare_recaps",
    "reactivation_steps",
    "recap_week",
    "recipient",
    "release",
    "reminder_moment",
    "render_for",
    "select_streak_reminders",
    "settle_uncertain",
    "update_settings",
    "wants",
]
