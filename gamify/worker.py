"""`python -m gamify.worker`: RQ workers for the app, with RQ's scheduler (retries with intervals,
enqueue_in/at) and, in a child process, RQ's cron scheduler for the recurring jobs in gamify.jobs.SCHEDULE.

Queues (gamify.jobs says what runs where): "events-fanout" (the dispatcher: rank fan-out and outbox),
"mail", "default" (webhooks, recurring jobs, rebuilds, backfills), "push" (Web Push and app devices).

Processes: a supervisor, one RQ worker per group of --queues (by default "events-fanout,default,mail,push"
and "mail,push,events-fanout,default": each serves every queue, the first in its list first, so neither mail
nor rank changes wait behind a burst of the other) and the cron scheduler; a child that exits unasked
is started again.

Scaling out (deploy/ has systemd units): on each machine run workers for the queues it should serve,
e.g. `--queues "events-fanout;events-fanout,default" --no-cron` for the event fan-out and
`--queues mail --no-cron` for mail; run the scheduler wherever convenient (`--cron-only`), on two
machines for failover: one leader enqueues, the other takes over within 40 s of its death.

Options: --queues "events-fanout,default,mail,push;mail,push,events-fanout,default"  --burst  --no-cron  --cron-only
         --logging-level INFO
Environment: the app's (REDIS_QUEUE_URL or REDIS_URL, DATABASE_URL, MAIL_*, PUBLIC_URL, LOG_FORMAT, ...).
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
from typing import Optional

import redis
from flask import has_app_context
from rq import Queue, Worker
from rq.exceptions import StopRequested

from . import create_app, database
from .extensions import db
from .jobs import build_cron
from .ops import logs, telemetry
from .queue import QUEUES

log = logging.getLogger("gamify.worker")

REDIS_ERRORS = (redis.exceptions.RedisError, OSError)
# Jobs walk every player (rebuilds, backfills): DATABASE_JOB_STATEMENT_TIMEOUT_MS, not the web's timeout.
JOB_PROCESS = {"GAMIFY_JOB_PROCESS": True}


def wait_for_redis(conn: redis.Redis, stopped, cap: float = 10.0) -> bool:
    """Block until Redis answers a PING (True), or until `stopped()` (False). Backs off to `cap` seconds."""
    delay = 0.25
    while not stopped():
        try:
            conn.ping()
            return True
        except REDIS_ERRORS as e:
            log.warning("Redis not reachable (%s); trying again in %.1f s", e, delay)
            time.sleep(delay)
            delay = min(delay * 2, cap)
    return False


def _connection(url: str) -> redis.Redis:
    # No socket timeout: the worker blocks on BLPOP for minutes; RQ handles reconnects.
    return redis.Redis.from_url(url, health_check_interval=30)


class AppWorker(Worker):
    """RQ's forking worker with the Flask app: one app (and app context) per worker process; each
    work horse drops the database connections it inherited through fork() and opens its own."""

    def __init__(self, *args, **kwargs):
        if not has_app_context():
            self._app_ctx = create_app(JOB_PROCESS).app_context()
            self._app_ctx.push()
        super().__init__(*args, **kwargs)

    stop_asked = False  # SIGTERM/SIGINT, as opposed to RQ quitting on a Redis error

    def main_work_horse(self, job, queue):
        telemetry.as_work_horse(os.getppid())  # first: before this job records anything
        db.engine.dispose(close=False)
        replica = database.replica_engine()
        if replica is not None:
            replica.dispose(close=False)
        return super().main_work_horse(job, queue)

    def request_stop(self, signum, frame):
        self.stop_asked = True
        return super().request_stop(signum, frame)


def run_cron(redis_url: str, parent_pid: Optional[int], logging_level: str = "INFO") -> None:
    """The cron loop (RQ's CronScheduler with a leader lock); returns on SIGTERM/SIGINT or when the parent
    is gone. A scheduler that loses Redis is replaced by a new one once Redis answers (it takes the
    leader lock again)."""

    conn = _connection(redis_url)

    def parent_gone() -> bool:
        return parent_pid is not None and os.getppid() != parent_pid

    while not parent_gone():
        try:
            cron = build_cron(conn, parent_pid=parent_pid)
            cron.log.setLevel(logging_level)
            cron.start()
            return  # start() returns only when asked to stop
        except StopRequested:
            return
        except Exception as e:  # noqa: BLE001 - a dead scheduler would stop every recurring job
            log.warning("cron scheduler stopped on an error (%s); a new one starts once Redis answers", e)
        try:
            if not wait_for_redis(conn, parent_gone):
                return
        except StopRequested:  # the signal handler the last scheduler installed
            return


def _cron_child(redis_url: str, parent_pid: int, logging_level: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops us
    try:
        run_cron(redis_url, parent_pid, logging_level)
    except Exception:  # noqa: BLE001
        logging.getLogger("gamify.worker").exception("cron scheduler crashed")
        raise


def _stop_pubsub(worker) -> None:
    """The command-listening thread of a worker that died with Redis would retry forever."""
    thread = getattr(worker, "pubsub_thread", None)
    if thread is not None:
        try:
            thread.stop()
            thread.join(5)
        except Exception:  # noqa: BLE001
            log.debug("could not stop the pubsub thread of %s", worker.name, exc_info=True)


DEFAULT_WORKERS = "events-fanout,default,mail,push;mail,push,events-fanout,default"


def run_worker(url: str, queue_names: list[str], logging_level: str, burst: bool = False) -> None:
    """One RQ worker on `queue_names` (in priority order) until SIGTERM/SIGINT; a worker that Redis
    failed under is replaced by a new one once Redis answers again."""
    conn = _connection(url)
    stop = {"asked": False}

    def _on_signal(_signum, _frame):
        stop["asked"] = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    failures = 0
    while wait_for_redis(conn, lambda: stop["asked"]):  # also when started before Redis
        # A new worker each round: RQ's worker quits for good when Redis fails under a running job.
        worker = AppWorker([Queue(n, connection=conn) for n in queue_names], connection=conn, maintenance_interval=60)
        log.info("worker %s listening on %s", worker.name, ", ".join(queue_names))
        started = time.monotonic()
        try:
            worker.work(burst=burst, with_scheduler=True, logging_level=logging_level)
        except REDIS_ERRORS as e:
            log.warning("worker %s lost Redis (%s)", worker.name, e)
            _stop_pubsub(worker)  # its teardown could not reach Redis to do so
        finally:  # RQ installed its own handlers for the worker's lifetime
            signal.signal(signal.SIGTERM, _on_signal)
            signal.signal(signal.SIGINT, _on_signal)
        if burst or worker.stop_asked or stop["asked"]:
            return
        # A worker that keeps failing for a reason other than Redis must not spin: wait 1, 2, 4 … 60 s.
        failures = 1 if time.monotonic() - started > 300 else failures + 1
        pause = min(60, 2 ** (failures - 1))
        log.warning("worker %s stopped on an error; a new one starts in %s s", worker.name, pause)
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline and not stop["asked"]:
            time.sleep(0.2)


def _worker_child(url: str, queue_names: list[str], logging_level: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the supervisor, which stops us

    db.engine.dispose(close=False)  # never share the parent's database connections
    run_worker(url, queue_names, logging_level)


def _die_with_parent() -> None:
    """Ask Linux for SIGTERM when the supervisor dies (even by SIGKILL): no orphaned workers."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: stop() still stops children on a normal exit
        pass


def _with_parent(target, *args) -> None:
    _die_with_parent()
    target(*args)


class _Child:
    """A supervised process: started again (after a pause) whenever it exits unasked."""

    def __init__(self, name: str, target, args: tuple):
        self.name, self.target, self.args = name, target, args
        self.proc = None
        self.restart_at = 0.0

    def ensure(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            return
        if self.proc is not None:
            if self.restart_at == 0.0:
                log.warning(
                    "%s (pid %s) exited with %s; starting it again in 2 s", self.name, self.proc.pid, self.proc.exitcode
                )
                self.restart_at = time.monotonic() + 2
            if time.monotonic() < self.restart_at:
                return
        self.restart_at = 0.0
        # Not daemonic: a daemonic process may not start processes, and an RQ worker starts its
        # scheduler (delayed jobs, retries) as one. Children stop with the supervisor (stop(), and
        # the parent-death signal should it be killed).
        self.proc = multiprocessing.get_context("fork").Process(
            target=_with_parent, args=(self.target, *self.args), name=self.name, daemon=False
        )
        self.proc.start()
        log.info("%s started (pid %s)", self.name, self.proc.pid)

    def stop(self, timeout: float) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.proc.terminate()  # SIGTERM: RQ finishes the job in hand (warm shutdown)
            self.proc.join(timeout)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(5)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gamify.worker", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--queues",
        default=DEFAULT_WORKERS,
        help="worker processes separated by ';', each a comma-separated list of queues in priority "
        f"order, from {', '.join(QUEUES)} (default '{DEFAULT_WORKERS}': mail never waits behind "
        "a burst of other jobs, nor the rest behind a mail burst)",
    )
    p.add_argument("--burst", action="store_true", help="process what is queued, then exit")
    p.add_argument("--no-cron", action="store_true", help="do not run the recurring-job scheduler here")
    p.add_argument("--cron-only", action="store_true", help="run only the recurring-job scheduler")
    p.add_argument("--logging-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    args = p.parse_args(argv)
    groups = [[q.strip() for q in g.split(",") if q.strip()] for g in args.queues.split(";") if g.strip()]
    unknown = sorted({q for g in groups for q in g} - set(QUEUES))
    if unknown or not groups:  # a worker on a misspelt queue would wait forever, quietly
        p.error(f"unknown queue(s) {', '.join(unknown) or '(none given)'}: the queues are {', '.join(QUEUES)}")
    app = create_app(JOB_PROCESS)
    logs.configure(app.config["LOG_FORMAT"], args.logging_level)
    ctx = app.app_context()
    ctx.push()
    url = app.config.get("REDIS_QUEUE_URL") or app.config["REDIS_URL"]
    try:
        if args.cron_only:
            run_cron(url, None, args.logging_level)
            return 0
        if args.burst:  # one worker, here: every queue of every group, in order of first mention
            run_worker(url, list(dict.fromkeys(q for g in groups for q in g)), args.logging_level, burst=True)
            return 0
        return _supervise(url, groups, args)
    finally:
        ctx.pop()


def _supervise(url: str, groups: list[list[str]], args) -> int:
    """The supervisor: one process per worker group and one for the cron scheduler, each started again
    if it exits unasked, all stopped on SIGTERM/SIGINT."""
    stop = {"asked": False}

    def _on_signal(_signum, _frame):
        stop["asked"] = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    children = [
        _Child(f"gamify-worker-{i + 1} ({','.join(g)})", _worker_child, (url, g, args.logging_level))
        for i, g in enumerate(groups)
    ]
    if not args.no_cron:
        children.append(_Child("gamify-cron", _cron_child, (url, os.getpid(), args.logging_level)))
    try:
        while not stop["asked"]:
            for child in children:
                child.ensure()
            time.sleep(0.5)
    finally:
        for child in children:
            child.stop(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
