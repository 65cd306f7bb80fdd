"""`python -m gamify.worker`: an RQ worker for the app (queues "default" and "mail"), with RQ's
scheduler (retries with intervals, enqueue_in/at) and, in a child process, RQ's cron scheduler for the
recurring jobs in gamify.jobs.SCHEDULE.

Scaling out: run more `python -m gamify.worker --no-cron` (or
`rq worker -w gamify.worker.AppWorker --with-scheduler default mail`); running the cron in several
workers is safe too (one leader enqueues, the others stand by).

Options: --queues default,mail  --burst  --no-cron  --cron-only  --logging-level INFO
Environment: the app's (REDIS_URL, DATABASE_URL, MAIL_*, PUBLIC_URL, ...).
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import sys
from typing import Optional

import redis
from flask import has_app_context
from rq import Queue, Worker

log = logging.getLogger("gamify.worker")


def _connection(url: str) -> redis.Redis:
    # No socket timeout: the worker blocks on BLPOP for minutes; RQ handles reconnects.
    return redis.Redis.from_url(url, health_check_interval=30)


class AppWorker(Worker):
    """RQ's forking worker with the Flask app: one app (and app context) per worker process; each
    work horse drops the database connections it inherited through fork() and opens its own."""

    def __init__(self, *args, **kwargs):
        if not has_app_context():
            from . import create_app
            self._app_ctx = create_app().app_context()
            self._app_ctx.push()
        super().__init__(*args, **kwargs)

    def main_work_horse(self, job, queue):
        from .extensions import db
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)


def run_cron(redis_url: str, parent_pid: Optional[int], logging_level: str = "INFO") -> None:
    """The cron loop (RQ's CronScheduler with a leader lock); returns on SIGTERM/SIGINT."""
    from .jobs import build_cron
    cron = build_cron(_connection(redis_url), parent_pid=parent_pid)
    cron.log.setLevel(logging_level)
    cron.start()


def _cron_child(redis_url: str, parent_pid: int, logging_level: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops us
    try:
        run_cron(redis_url, parent_pid, logging_level)
    except Exception:  # noqa: BLE001
        logging.getLogger("gamify.worker").exception("cron scheduler crashed")
        raise


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gamify.worker", description=__doc__.split("\n\n")[0])
    p.add_argument("--queues", default="default,mail", help="comma-separated, in priority order")
    p.add_argument("--burst", action="store_true", help="process what is queued, then exit")
    p.add_argument("--no-cron", action="store_true", help="do not run the recurring-job scheduler here")
    p.add_argument("--cron-only", action="store_true", help="run only the recurring-job scheduler")
    p.add_argument("--logging-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    args = p.parse_args(argv)
    logging.basicConfig(level=args.logging_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    from . import create_app
    app = create_app()
    ctx = app.app_context()
    ctx.push()
    url = app.config["REDIS_URL"]
    conn = _connection(url)
    try:
        conn.ping()
    except redis.RedisError as e:
        log.error("Redis is not reachable at %s: %s", url, e)
        return 2

    if args.cron_only:
        run_cron(url, None, args.logging_level)
        return 0

    cron_proc = None
    if not args.no_cron and not args.burst:
        ctx_mp = multiprocessing.get_context("fork")
        cron_proc = ctx_mp.Process(target=_cron_child, args=(url, os.getpid(), args.logging_level),
                                   name="gamify-cron", daemon=True)
        cron_proc.start()
        log.info("cron scheduler started (pid %s)", cron_proc.pid)

    queues = [Queue(name.strip(), connection=conn) for name in args.queues.split(",") if name.strip()]
    worker = AppWorker(queues, connection=conn)
    log.info("worker %s listening on %s", worker.name, ", ".join(q.name for q in queues))
    try:
        worker.work(burst=args.burst, with_scheduler=True, logging_level=args.logging_level)
    finally:
        if cron_proc is not None and cron_proc.is_alive():
            cron_proc.terminate()
            cron_proc.join(10)
            if cron_proc.is_alive():
                cron_proc.kill()
        ctx.pop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
