"""Every RQ job, and the recurring schedule: one module per area, re-exported here.

Jobs run on RQ workers (`python -m gamify.worker`). Each job gets an app context (the worker's, or one
it creates), commits its own work and rolls back on failure. The queues (gamify.queue.QUEUES):

- "events-fanout": the dispatcher (`dispatch_outbox`: others' rank changes, then domain events into
  webhook deliveries and e-mails), asked for after every commit that leaves work for it. Its own queue so
  that rank changes never wait behind a webhook or backfill burst.
- "mail": every e-mail (`deliver_email`): a slow mail server never delays the rest, nor the other way.
- "default": webhook deliveries, the recurring jobs, leaderboard rebuilds, backfills.
- "push": Web Push and mobile push deliveries (`deliver_push`): a slow push service never delays mail.

The schedule uses RQ's own cron (`rq.cron.CronScheduler`), run by `python -m gamify.worker` in a child
process or on its own (`--cron-only`). Several may run: a Redis lock makes one of them (the leader)
enqueue; the others take over within CRON_LEADER_TTL + CRON_TICK seconds of its death. Every recurring
job is idempotent anyway (tests/integration/test_jobs_idempotent.py runs each twice). Retries (RQ `Retry`,
with intervals) need the worker's RQ scheduler (`--with-scheduler`, on by default in gamify.worker).

The modules: base (queues, retries, app_job, enqueue_unique), emails, push, webhooks (deliveries),
dispatch (the dispatcher), reminders (streak reminders, weekly recaps), progress (streaks settled,
time-interval points, backfills), energy, leaderboards, analytics, maintenance (old logs pruned),
schedule (SCHEDULE and the leader cron). Every job is known to RQ as `gamify.jobs.<name>` (app_job
names it so; the names below keep it importable): the name jobs already queued in Redis carry.
"""

from __future__ import annotations

from .. import after_commit
from .analytics import roll_up_analytics
from .base import (
    DEFAULT_QUEUE,
    FANOUT_QUEUE,
    MAIL_QUEUE,
    MAIL_RETRY,
    PUSH_QUEUE,
    PUSH_RETRY,
    WEBHOOK_RETRY,
    _optional,
    app_job,
    enqueue_unique,
    mail_retry,
    webhook_retry,
)
from .dispatch import DISPATCH_FLAG, dispatch_outbox, dispatch_step, request_dispatch
from .emails import deliver_email, enqueue_email, enqueue_test_email, send_test_email
from .energy import audit_energy_ledger, energy_fills, expire_gifts
from .leaderboards import finalise_leaderboards, rebuild_leaderboards, request_rebuild
from .maintenance import prune_logs
from .progress import run_backfill, settle_streaks, time_interval_points
from .push import deliver_push, enqueue_deliveries, enqueue_delivery, enqueue_push
from .reminders import streak_reminders, weekly_recaps
from .schedule import (
    CRON_LEADER_KEY,
    CRON_LEADER_TTL,
    CRON_TICK,
    SCHEDULE,
    LeaderCronScheduler,
    Scheduled,
    build_cron,
    scheduled,
)
from .webhooks import WebhookDeliveryFailed, deliver_webhook, enqueue_webhook_delivery

__all__ = [
    "CRON_LEADER_KEY",
    "CRON_LEADER_TTL",
    "CRON_TICK",
    "DEFAULT_QUEUE",
    "DISPATCH_FLAG",
    "FANOUT_QUEUE",
    "MAIL_QUEUE",
    "MAIL_RETRY",
    "PUSH_QUEUE",
    "PUSH_RETRY",
    "SCHEDULE",
    "WEBHOOK_RETRY",
    "LeaderCronScheduler",
    "Scheduled",
    "WebhookDeliveryFailed",
    "_optional",
    "app_job",
    "audit_energy_ledger",
    "build_cron",
    "deliver_email",
    "deliver_push",
    "deliver_webhook",
    "dispatch_outbox",
    "dispatch_step",
    "energy_fills",
    "enqueue_deliveries",
    "enqueue_delivery",
    "enqueue_email",
    "enqueue_push",
    "enqueue_test_email",
    "enqueue_unique",
    "enqueue_webhook_delivery",
    "expire_gifts",
    "finalise_leaderboards",
    "init_app",
    "mail_retry",
    "prune_logs",
    "rebuild_leaderboards",
    "request_dispatch",
    "request_rebuild",
    "roll_up_analytics",
    "run_backfill",
    "scheduled",
    "send_test_email",
    "settle_streaks",
    "streak_reminders",
    "time_interval_points",
    "weekly_recaps",
    "webhook_retry",
]


def init_app(app) -> None:
    """Say what each after-commit topic does (services request topics; they never import this package)."""

    after_commit.HANDLERS.update(
        {
            "leaderboards.rebuild": request_rebuild,
            "webhook.deliver": enqueue_webhook_delivery,
            "email.send": enqueue_delivery,
            "email.test": enqueue_test_email,
        }
    )
    # The dispatcher runs the rank fan-out first (its rank changes are outbox events too).
    after_commit.REDIS_HANDLERS.update({"outbox": dispatch_step, "leaderboards.fanout": dispatch_step})
