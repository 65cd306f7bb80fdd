"""The recurring schedule (SCHEDULE: what runs when, on which queue) and the cron scheduler that
enqueues it (RQ's own cron; a Redis lock makes one of several schedulers the leader: LeaderCronScheduler,
build_cron).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Optional

from rq.cron import CronScheduler
from rq.exceptions import StopRequested
from rq.scripts import acquire_or_refresh_lock, release_lock
from rq.utils import now

from .analytics import roll_up_analytics
from .base import DEFAULT_QUEUE, FANOUT_QUEUE
from .dispatch import dispatch_outbox
from .energy import audit_energy_ledger, energy_fills, expire_gifts
from .leaderboards import finalise_leaderboards
from .maintenance import prune_logs
from .progress import settle_streaks, time_interval_points
from .reminders import streak_reminders, weekly_recaps


@dataclass(frozen=True)
class Scheduled:
    name: str
    func: Callable
    description: str
    cron: Optional[str] = None
    interval: Optional[int] = None
    timeout: int = 600
    queue: str = DEFAULT_QUEUE

    @property
    def when(self) -> str:
        return f"every {self.interval} s" if self.interval else f"cron '{self.cron}'"

    @property
    def ttl(self) -> int:
        """A recurring job still queued after this long is dropped (the next run does its work)."""
        return max(self.interval or 900, 300)


SCHEDULE: tuple[Scheduled, ...] = (
    Scheduled(
        "dispatch-outbox",
        dispatch_outbox,
        "Others' rank changes, then domain events to webhooks and e-mails; catch up on anything left pending",
        interval=60,
        timeout=300,
        queue=FANOUT_QUEUE,
    ),
    Scheduled(
        "streak-reminders",
        streak_reminders,
        "Streak reminder e-mails in each player's local evening",
        cron="*/15 * * * *",
    ),
    Scheduled(
        "settle-streaks",
        settle_streaks,
        "Close lapsed streak periods (freezes, streak.lost) near local midnight",
        cron="*/15 * * * *",
    ),
    Scheduled(
        "weekly-recaps", weekly_recaps, "Weekly recap e-mails on the recap weekday, local time", cron="*/15 * * * *"
    ),
    Scheduled(
        "time-interval-points",
        time_interval_points,
        "Time-interval and local-midnight points triggers",
        cron="*/15 * * * *",
    ),
    Scheduled(
        "energy-full",
        energy_fills,
        "Tell players whose energy filled up (once per fill), without them opening the app",
        cron="*/5 * * * *",
    ),
    Scheduled(
        "energy-ledger-audit",
        audit_energy_ledger,
        "Flag energy that rose with no ledger row to explain it (anti-cheat)",
        cron="*/15 * * * *",
    ),
    Scheduled(
        "expire-gifts", expire_gifts, "Expire energy gifts (when the energy feature is installed)", cron="*/5 * * * *"
    ),
    Scheduled(
        "finalise-leaderboards",
        finalise_leaderboards,
        "Finalise leaderboards whose period ended (when the leaderboards feature is installed)",
        cron="*/5 * * * *",
    ),
    Scheduled(
        "analytics-rollups",
        roll_up_analytics,
        "Analytics rollups: yesterday and today again, and any day missing (the history on the first run)",
        cron="41 * * * *",
        timeout=3600,
    ),
    Scheduled("prune-logs", prune_logs, "Forget delivery logs older than 90 days", cron="17 3 * * *"),
)


def scheduled(name: str) -> Scheduled:
    for s in SCHEDULE:
        if s.name == name:
            return s
    raise KeyError(name)


CRON_LEADER_KEY = "gamify:cron:leader"
# The leader refreshes the lock every CRON_TICK seconds; a leader that died (killed, its machine gone)
# holds it CRON_LEADER_TTL seconds more at most, and a follower tries every CRON_TICK seconds: another
# scheduler leads within TTL + TICK (40 s) of the leader's death. A clean stop releases it at once.
CRON_TICK = 10
CRON_LEADER_TTL = 30


class LeaderCronScheduler(CronScheduler):
    """rq.cron.CronScheduler that only enqueues while it holds the leader lock, so several workers
    can each run one (fail-over) without enqueueing every job several times. Followers keep their
    clocks in step. With `parent_pid`, it stops when that process is gone."""

    def __init__(self, *args, parent_pid: Optional[int] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.parent_pid = parent_pid
        self.is_leader = False

    def _lead(self) -> bool:

        outcome = acquire_or_refresh_lock(self.connection, CRON_LEADER_KEY, self.name, CRON_LEADER_TTL)
        leader = outcome in ("acquired", "refreshed")
        if leader != self.is_leader:
            self.log.info(
                "CronScheduler %s: %s", self.name, "leading" if leader else "standing by (another scheduler leads)"
            )
        self.is_leader = leader
        return leader

    def enqueue_jobs(self):
        if self._lead():
            return super().enqueue_jobs()

        t = now()
        for job in self._cron_jobs:
            if job.should_run():
                job.set_enqueue_time(t)
        return []

    def calculate_sleep_interval(self) -> float:
        # RQ sleeps until the next job is due (up to 60 s); the lock needs a shorter beat.
        return min(super().calculate_sleep_interval(), CRON_TICK)

    def heartbeat(self) -> None:
        if self.parent_pid and os.getppid() != self.parent_pid:
            self.log.info("CronScheduler %s: parent process gone, stopping", self.name)
            raise StopRequested()
        super().heartbeat()

    def register_death(self, pipeline=None) -> None:

        try:
            release_lock(self.connection, CRON_LEADER_KEY, self.name)
        finally:
            super().register_death(pipeline)


def build_cron(connection, parent_pid: Optional[int] = None, name: str = "") -> LeaderCronScheduler:
    cron = LeaderCronScheduler(connection=connection, parent_pid=parent_pid, name=name)
    for s in SCHEDULE:
        cron.register(
            s.func,
            s.queue,
            interval=s.interval,
            cron=s.cron,
            job_timeout=s.timeout,
            result_ttl=3600,
            ttl=s.ttl,
            failure_ttl=int(timedelta(days=7).total_seconds()),
            name=s.name,
        )
    return cron
