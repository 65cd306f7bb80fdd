"""Metrics across processes, as deployed: gunicorn with gunicorn.conf.py and two workers, and an RQ
worker, sharing one PROMETHEUS_MULTIPROC_DIR; a scrape of the web sums every process, a worker that
was replaced included, and RQ's work horses write under their worker's name (a few files, not a few
per job)."""

import os
import signal
import socket
import subprocess
import sys
import time

import requests
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

from gamify import jobs
from gamify.config import ROOT
from gamify.queue import get_redis
from tests.mailfixtures import free_port

TOKEN = "multi-token"


@jobs.app_job
def explode():
    raise RuntimeError("boom")


def _wait(pred, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return {int(x) for x in out.split()}


def _samples(text: str) -> dict:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def test_a_scrape_sums_gunicorn_workers_and_rq_work_horses(app, db, database_url, redis_server, tmp_path):
    db.session.commit()  # no open transaction (SQLite lock) while the worker writes
    metrics_dir = tmp_path / "metrics"
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        REDIS_URL=redis_server["url"],
        SECRET_KEY="test-secret",
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        GUNICORN_ACCESS_LOG="/dev/null",
    )
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert _wait(lambda: _listening(port) and len(_children(web.pid)) == 2), "gunicorn did not start"
        scrape = {"Authorization": f"Bearer {TOKEN}"}
        assert requests.get(f"{base}/metrics", headers=scrape, timeout=120).status_code == 200  # a worker is up
        for _ in range(10):
            assert requests.get(f"{base}/healthz", timeout=60).status_code == 200
        # One worker goes (gunicorn starts another): what it counted still counts.
        first = _children(web.pid)
        os.kill(sorted(first)[0], signal.SIGTERM)
        assert _wait(lambda: len(_children(web.pid)) == 2 and _children(web.pid) != first), "no replacement"
        for _ in range(10):
            assert requests.get(f"{base}/healthz", timeout=60).status_code == 200

        conn = get_redis()
        q = Queue("default", connection=conn)
        for _ in range(3):
            q.enqueue(jobs.prune_logs)
        for _ in range(2):
            q.enqueue(explode)
        burst = subprocess.run(
            [sys.executable, "-m", "gamify.worker", "--burst", "--queues", "default"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert burst.returncode == 0, burst.stderr[-3000:]

        r = requests.get(f"{base}/metrics", headers=scrape, timeout=60)
        assert r.status_code == 200
        samples = _samples(r.text)

        def v(name, **labels):
            return samples.get((name, frozenset(labels.items())), 0.0)

        assert v("gamify_http_request_duration_seconds_count", endpoint="ops.healthz", status_class="2xx") == 20
        assert v("gamify_jobs_total", job="prune_logs", outcome="ok") == 3
        assert v("gamify_job_failures_total", job="explode") == 2
        # Five jobs, five work horses, all writing under the one worker's name: files of three gunicorn
        # workers, the RQ worker's process and its horses' one name (not one per job).
        names = sorted(p.name for p in metrics_dir.glob("*.db"))
        ids = {n.rsplit("_", 1)[-1].removesuffix(".db") for n in names}
        assert len({i for i in ids if i.startswith("rqhorse")}) == 1, names
        assert len(ids) <= 5, names
    finally:
        web.send_signal(signal.SIGTERM)
        try:
            out, _ = web.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            web.kill()
            out, _ = web.communicate()
    assert web.returncode == 0, out[-3000:]
