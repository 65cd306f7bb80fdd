"""The real processes: `python -m gamify.worker` processes jobs (and runs the cron), and
`python -m gamify.devmail` writes each message it receives as a .eml file."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from rq import Queue, Worker
from rq.job import Job

from gamify import jobs, mail
from gamify.config import ROOT
from gamify.extensions import db
from gamify.queue import get_redis
from tests.mailfixtures import free_port


def _env(database_url, redis_server, **extra) -> dict:
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        REDIS_URL=redis_server["url"],
        SECRET_KEY="test-secret",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _start_worker(database_url, redis_server, *args) -> subprocess.Popen:
    """`python -m gamify.worker` against the test database and Redis, its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "gamify.worker", *args],
        cwd=ROOT,
        env=_env(database_url, redis_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(proc: subprocess.Popen, timeout: float) -> str:
    """SIGTERM (a warm shutdown), killed if it takes longer than `timeout`; returns the output."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def _wait(pred, timeout=20.0, every=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return False


def test_worker_burst_processes_a_job(app, db, database_url, redis_server):
    job = Queue("default", connection=get_redis()).enqueue(jobs.prune_logs)
    db.session.commit()  # no open transaction (SQLite lock) while the worker writes
    proc = subprocess.run(
        [sys.executable, "-m", "gamify.worker", "--burst"],
        cwd=ROOT,
        env=_env(database_url, redis_server),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    job = Job.fetch(job.id, connection=get_redis())
    assert job.get_status() == "finished", proc.stderr[-2000:]
    assert job.return_value() == {"deliveries": 0, "emails": 0, "login_links": 0}


def test_worker_runs_the_cron_and_stops_cleanly(app, db, database_url, redis_server):
    db.session.commit()
    proc = _start_worker(database_url, redis_server)
    try:
        conn = get_redis()
        # The cron leader enqueues dispatch-outbox at once; the worker runs it.
        assert _wait(lambda: conn.get(jobs.CRON_LEADER_KEY) is not None), "no cron leader"
        assert _wait(
            lambda: any(
                j and j.get_status() == "finished"
                for j in Job.fetch_many(
                    [i.decode() for i in conn.zrange("rq:cron_job:dispatch-outbox:jobs", 0, -1)], connection=conn
                )
            )
        ), "dispatch-outbox never ran"
    finally:
        out = _stop(proc, timeout=30)
    assert proc.returncode == 0, out[-3000:]
    assert _wait(lambda: get_redis().get(jobs.CRON_LEADER_KEY) is None, timeout=10), "cron child still alive"


def test_worker_carries_on_after_redis_drops_under_a_running_job(app, db, database_url, redis_server):
    """Redis stops while a job runs and comes back 10 s later (empty: no persistence): the worker process
    is still there, processes new jobs, and a cron scheduler leads again."""
    db.session.commit()
    proc = _start_worker(database_url, redis_server)
    try:
        conn = get_redis()
        assert _wait(lambda: conn.get(jobs.CRON_LEADER_KEY) is not None), "no cron leader"
        slow = Queue("default", connection=conn).enqueue(time.sleep, 8)
        assert _wait(lambda: slow.get_status(refresh=True) == "started"), "the slow job never started"
        redis_server["stop"]()
        time.sleep(10)
        redis_server["start"]()
        job = Queue("default", connection=conn).enqueue(jobs.prune_logs)
        assert _wait(lambda: job.get_status(refresh=True) == "finished", timeout=60), "no job ran after the outage"
        assert proc.poll() is None, "the worker process exited"
        assert _wait(lambda: conn.get(jobs.CRON_LEADER_KEY) is not None, timeout=60), "no cron leader again"
    finally:
        out = _stop(proc, timeout=30)
    assert proc.returncode == 0, out[-3000:]
    assert "lost Redis" in out


def test_mail_never_waits_behind_a_burst_of_other_jobs(app, db, database_url, redis_server):
    """A backlog of slow jobs on "default" (a webhook burst) does not delay a mail: one of the worker
    processes serves the mail queue first."""
    db.session.commit()
    conn = get_redis()
    backlog = [Queue("default", connection=conn).enqueue(time.sleep, 1) for _ in range(15)]
    proc = _start_worker(database_url, redis_server, "--no-cron")
    try:
        assert _wait(lambda: any(j.get_status(refresh=True) == "started" for j in backlog)), "backlog not started"
        mail = Queue("mail", connection=conn).enqueue(jobs.prune_logs)
        assert _wait(lambda: mail.get_status(refresh=True) == "finished", timeout=10), "the mail waited"
        waiting = sum(1 for j in backlog if j.get_status(refresh=True) == "queued")
        assert waiting >= 5, waiting  # the burst was still there when the mail went out
    finally:
        out = _stop(proc, timeout=60)
    assert proc.returncode == 0, out[-3000:]


def test_devmail_writes_an_eml_file(app, tmp_path):
    port = free_port()
    maildir = tmp_path / "mail"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gamify.devmail", "--port", str(port), "--dir", str(maildir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        assert _wait(listening), "devmail did not start"
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
        msg = mail.build(
            "dev@example.com",
            "Hello dev",
            "notification",
            {"text_body": "Start again: http://127.0.0.1:5000/l/streak/x", "type_label": "Come-back messages"},
            unsubscribe_url="http://127.0.0.1:5000/u",
        )
        mail.send(msg)
        assert _wait(lambda: list(maildir.glob("*.eml")))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    (eml,) = list(Path(maildir).glob("*.eml"))
    raw = eml.read_bytes()
    assert b"Subject: Hello dev" in raw and b"X-Devmail-Envelope-To: dev@example.com" in raw
    assert b"multipart/alternative" in raw


def test_delayed_jobs_run_and_no_worker_process_crashes(app, db, database_url, redis_server):
    """Delayed jobs (retries with back-off, enqueue_in) need the RQ scheduler, which each worker starts as
    a process of its own: the supervised workers must be allowed to (a daemonic process may not have
    children: the workers crashed and were restarted in a loop). The job runs, and nobody restarts."""
    from datetime import timedelta

    db.session.commit()
    proc = _start_worker(database_url, redis_server, "--no-cron")
    try:
        conn = get_redis()
        assert _wait(lambda: len(Worker.all(connection=conn)) == 2), "the two workers never registered"
        job = Queue("default", connection=conn).enqueue_in(timedelta(seconds=2), jobs.prune_logs)
        assert _wait(lambda: job.get_status(refresh=True) == "finished", timeout=30), "the delayed job never ran"
        time.sleep(3)
        assert proc.poll() is None
    finally:
        out = _stop(proc, timeout=60)
    assert proc.returncode == 0, out[-3000:]
    assert "exited with" not in out and "unhandled exception" not in out and "stopped on an error" not in out, out[
        -3000:
    ]


def test_kill_the_cron_leader_and_another_takes_over_within_a_minute(app, db, database_url, redis_server):
    """Two schedulers (`--cron-only`, as deploy/ runs them on two machines); the leader is killed with
    SIGKILL (no clean release of the lock: a machine lost): the other leads within a minute."""
    db.session.commit()
    procs = [_start_worker(database_url, redis_server, "--cron-only") for _ in range(2)]
    conn = get_redis()

    def holder_pid():
        value = conn.get(jobs.CRON_LEADER_KEY)
        return int(value.decode().rsplit(":", 2)[1]) if value else None  # name: host:pid:suffix

    try:
        assert _wait(lambda: holder_pid() is not None, timeout=60), "no cron leader"
        leader = next(p for p in procs if p.pid == holder_pid())
        other = next(p for p in procs if p is not leader)
        leader.kill()
        leader.wait(10)
        killed = time.monotonic()
        assert _wait(lambda: holder_pid() == other.pid, timeout=75), "nobody took over"
        took = time.monotonic() - killed
        assert took < 60, took
        assert other.poll() is None
    finally:
        outs = [_stop(p, timeout=30) for p in procs]
    assert other.returncode == 0, outs
