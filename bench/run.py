"""Benchmarks: the event API through gunicorn (ceiling, single events, batch ingest, latency at fixed
offered rates, rank-change lag behind an RQ worker: bench/events_bench.py), leaderboard reads at 100k
players, achievement backfill over 100k players, reminder selection over 100k players, dashboard render,
the analytics pages over 90 days of rollups for 100k players (bench/analytics_bench.py).

Runs against a real PostgreSQL (scripts/pg.sh) and Redis (scripts/redis.sh) started here, and
against the SQLite default. Load comes from wrk (scripts/wrk.sh installs it) and bench/openloop.py.
Prints a table and writes bench/results.json.

    make bench                      # everything
    .venv/bin/python bench/run.py --quick --only postgres --parts http
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
REDIS_PORT = 6392
ACTION_FRACTION = 0.3  # share of bench events sent as the energy action "lesson" (spends energy)
TARGETS = {
    "event_to_ceiling": 0.25,  # single events/s >= 25 % of the refused-request ceiling (same run)
    "open_loop_50_p99_ms": 25,  # p99 at 50 % of the max single events/s, open loop
    "batch_events_per_second": 1000,
    "rank_change_lag_p99_s": 2,
    "leaderboard_p99_ms": 50,
    "backfill_seconds": 10,
    "reminder_selection_seconds": 5,
    "dashboard_p99_ms": 50,
    "analytics_page_ms": 200,  # the trends page, 90 days of rollups for 100k players (bench/analytics_bench.py)
}


def sh(*args, env=None, check=True) -> str:
    return subprocess.run(args, cwd=ROOT, env=env, check=check, capture_output=True, text=True).stdout.strip()


def start_services() -> tuple[str, str]:
    sh("bash", "scripts/pg.sh", "start")
    pg_url = sh("bash", "scripts/pg.sh", "url").rsplit("/", 1)[0] + "/gamify_bench"
    env = {**os.environ, "REDIS_PORT": str(REDIS_PORT), "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0"}
    sh("bash", "scripts/redis.sh", "start", env=env)
    return pg_url, f"redis://127.0.0.1:{REDIS_PORT}/0"


def fresh_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.drivername.startswith("sqlite"):
        Path(u.database).unlink(missing_ok=True)
        return
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()


def make_app(db_url: str, redis_url: str):
    from gamify import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "REDIS_URL": redis_url,
            "RATELIMIT_ENABLED": False,
            "RQ_ASYNC": False,
            "SECRET_KEY": "bench",
        }
    )


def setup_product(app, players: int) -> dict:
    """Every feature configured as in the demo; `players` players identified through the service."""
    from flask_migrate import upgrade

    from gamify import demo, demo_extras
    from gamify.extensions import db
    from gamify.services import apikeys, users

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        demo.configure()
        demo_extras.configure()
        demo_extras.configure_leaderboards()
        _key, secret = apikeys.create("bench")
        db.session.commit()
        rng = random.Random(3)
        for i in range(players):
            city, tz = demo.CITIES[i % len(demo.CITIES)]
            users.identify(
                f"bench-{i:05d}",
                name=f"Bench {i}",
                tz=tz,
                attributes={"city": city, "tier": "premium" if rng.random() < 0.25 else "free"},
            )
            if i % 1000 == 999:
                db.session.commit()
        web = users.signup(
            "bench@example.com",
            "bench-password",
            "Bench Player",
            "Europe/London",
            attributes={"city": "london", "tier": "free"},
        )
        db.session.commit()
        # New boards wait for a rebuild of Redis (the first leaderboard read, or `flask leaderboards
        # rebuild`, does it); until then events rank from SQL. Measure the steady state: Redis serving.
        from gamify.services import leaderboards

        leaderboards.rebuild()
        db.session.commit()
        return {"api_key": secret, "web_user_id": web.id}


class Gunicorn:
    def __init__(self, db_url: str, redis_url: str, port: int = 5099, workers: int = 2, log_path: Path | None = None):
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "RATELIMIT_ENABLED": "0",
            "SECRET_KEY": "bench",
        }
        self.log_path = log_path
        self._log = open(log_path, "w") if log_path else None
        self.proc = subprocess.Popen(
            [
                str(Path(PY).parent / "gunicorn"),
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "app:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=self._log,
        )
        import urllib.request

        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/login", timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)
        if self._log:
            self._log.close()

    def errors(self) -> dict:
        """Exceptions the server logged (the last line of each traceback), counted."""
        if not self.log_path:
            return {}
        counts: dict[str, int] = {}
        lines = self.log_path.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("Traceback"):
                j = i + 1
                while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
                    j += 1
                last = lines[j][:160] if j < len(lines) else "?"
                counts[last] = counts.get(last, 0) + 1
        return {"log": str(self.log_path), "tracebacks": sum(counts.values()), "by_exception": counts}


def load(spec: dict) -> dict:
    """bench/load.py (read measures) in its own process; adds the generator's CPU (wait4)."""
    from bench.wrk_load import run_measured

    stdout, stderr, rc, cpu = run_measured([PY, str(ROOT / "bench" / "load.py"), json.dumps(spec)], timeout_s=600)
    if rc != 0:
        raise RuntimeError(f"bench/load.py failed ({rc}): {stderr[-800:]}")
    return {**json.loads(stdout.strip().splitlines()[-1]), "generator_cpu": cpu}


def login_cookie(base_url: str, email: str, password: str) -> str:
    import http.cookiejar
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(base_url + "/login").read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    data = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
    opener.open(base_url + "/login", data=data)
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def bench_http(db_url: str, redis_url: str, quick: bool, label: str) -> dict:
    from bench import events_bench

    players = 2000 if quick else 10_000
    fresh_database(db_url)
    import redis

    redis.Redis.from_url(redis_url).flushall()
    app = make_app(db_url, redis_url)
    t0 = time.perf_counter()
    info = setup_product(app, players)
    setup_s = time.perf_counter() - t0
    server = Gunicorn(db_url, redis_url, log_path=Path(tempfile.gettempdir()) / f"gamify-bench-gunicorn-{label}.log")
    worker = None
    try:
        worker = events_bench.RQWorker(
            db_url, redis_url, Path(tempfile.gettempdir()) / f"gamify-bench-worker-{label}.log"
        )
        events = events_bench.run(
            server.url,
            db_url,
            redis_url,
            info["api_key"],
            players,
            quick,
            ACTION_FRACTION,
            label,
            {"gunicorn": server.proc.pid, "rq_worker": worker.proc.pid},
            worker,
        )
        events_bench.finish(db_url, redis_url, events)  # drain the worker, then read the lag
        events["worker"] = worker.stop()
        worker = None
        lag = events["rank_change_lag"]
        print(
            f"   rank-change lag: {lag['count']} rows, p50/p95/p99/max {lag['p50_s']}/{lag['p95_s']}/"
            f"{lag['p99_s']}/{lag['max_s']} s, {lag['at_event_time']} at the event's own time",
            flush=True,
        )
        cookie = login_cookie(server.url, "bench@example.com", "bench-password")
        dash = load(
            {
                "kind": "get",
                "base_url": server.url,
                "paths": ["/dashboard"] * (200 if quick else 500),
                "headers": {"Cookie": cookie},
                "concurrency": 2,
            }
        )
        extra = {}
        try:
            from bench import leaderboards_bench

            extra = leaderboards_bench.http(server.url, info, cookie, quick)
        except ImportError:
            pass
    finally:
        if worker is not None:
            worker.stop()
        server.stop()
    events["server_errors"] = server.errors()
    if events["server_errors"]["tracebacks"]:
        print(f"   server errors: {json.dumps(events['server_errors']['by_exception'])}", flush=True)
    return {"players": players, "setup_seconds": round(setup_s, 1), **events, "dashboard": dash, **extra}


def bench_backfill(db_url: str, redis_url: str, quick: bool) -> dict:
    """Activation backfill of a metric achievement over N players holding totals."""
    from sqlalchemy import insert

    from gamify.extensions import db
    from gamify.models import Achievement, Metric, MetricTotal, User
    from gamify.models._common import utcnow
    from gamify.services import achievements

    n = 20_000 if quick else 100_000
    fresh_database(db_url)
    app = make_app(db_url, redis_url)
    with app.app_context():
        db.create_all()
        m = Metric(key="steps", name="Steps", unit="")
        db.session.add(m)
        db.session.flush()
        now = utcnow()
        for start in range(0, n, 10_000):
            db.session.execute(
                insert(User),
                [
                    {
                        "external_id": f"u{i}",
                        "display_name": f"u{i}",
                        "timezone": "UTC",
                        "attributes": {},
                        "role": "player",
                        "control_group": False,
                        "created_at": now,
                    }
                    for i in range(start, min(n, start + 10_000))
                ],
            )
        ids = [r for r in db.session.execute(db.select(User.id).order_by(User.id)).scalars()]
        rng = random.Random(5)
        for start in range(0, n, 10_000):
            db.session.execute(
                insert(MetricTotal),
                [
                    {"user_id": uid, "metric_id": m.id, "total": rng.randint(0, 200), "updated_at": now}
                    for uid in ids[start : start + 10_000]
                ],
            )
        a = Achievement(key="steps_50", name="50", trigger="metric", metric_id=m.id, threshold=50, status="inactive")
        db.session.add(a)
        db.session.commit()
        t0 = time.perf_counter()
        added = achievements.activate([a])
        db.session.commit()
        seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        again = achievements.activate([a])
        db.session.commit()
        rerun = time.perf_counter() - t1
    return {
        "players": n,
        "completions": added,
        "seconds": round(seconds, 2),
        "rerun_added": again,
        "rerun_seconds": round(rerun, 2),
    }


def bench_reminders(db_url: str, redis_url: str, quick: bool) -> dict:
    try:
        from bench import reminders_bench
    except ImportError:
        return {"skipped": "reminders module not available"}
    return reminders_bench.run(make_app, fresh_database, db_url, redis_url, 20_000 if quick else 100_000)


def bench_leaderboard_scale(db_url: str, redis_url: str, quick: bool) -> dict:
    try:
        from bench import leaderboards_bench
    except ImportError:
        return {"skipped": "leaderboards module not available"}
    return leaderboards_bench.scale(
        make_app, fresh_database, Gunicorn, load, db_url, redis_url, 20_000 if quick else 100_000
    )


def _fmt(v, nd: int = 1) -> str:
    if v is None:
        return "-"
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def _statuses(runs: list[dict]) -> str:
    total: dict[str, int] = {}
    for r in runs:
        for k, v in r.get("statuses", {}).items():
            total[k] = total.get(k, 0) + v
    return " ".join(f"{k}:{v}" for k, v in sorted(total.items())) or "none answered during the runs"


def event_rows(backend: str, h: dict) -> list[tuple]:
    rows = []
    reps = h.get("reps", 3)
    c, s = h.get("ceiling", {}).get("median"), h.get("single", {}).get("median")

    def runs(part: str, key: str) -> str:
        return ", ".join(_fmt(r.get(key)) for r in h.get(part, {}).get("runs", []))

    if c:
        rows.append(
            (
                backend,
                f"ceiling: event POST refused at key check (401), req/s / p99 ms, median of "
                f"{reps} ({runs('ceiling', 'per_second')})",
                f"{_fmt(c['per_second'])} / {_fmt(c['p99_ms'], 2)}",
                "(reference)",
            )
        )
    if c and {k for r in h["ceiling"]["runs"] for k in r["statuses"]} != {"401"}:  # e.g. 429s: not the key check
        rows.append((backend, f"ceiling HTTP statuses ({reps} runs)", _statuses(h["ceiling"]["runs"]), "all 401"))
    if s:
        rows.append(
            (
                backend,
                f"single events/s (wrk, {h['connections']} conns, "
                f"{int(h['action_fraction'] * 100)}% energy actions), median of {reps} "
                f"({runs('single', 'ok_per_second')})",
                _fmt(s["ok_per_second"]),
                "",
            )
        )
        ratio = h["ratios"]["event_to_ceiling"]
        rows.append((backend, "single events / ceiling", _fmt(ratio, 3), f">= {TARGETS['event_to_ceiling']}"))
        rows.append(
            (
                backend,
                "single event latency at saturation p50/p95/p99 ms (closed loop)",
                f"{_fmt(s['p50_ms'], 1)}/{_fmt(s['p95_ms'], 1)}/{_fmt(s['p99_ms'], 1)}",
                "(see open loop)",
            )
        )
        rows.append((backend, f"single event HTTP statuses ({reps} runs)", _statuses(h["single"]["runs"]), "all 2xx"))
    b = h.get("batch")
    if b is not None:
        label = f"batch events/s recorded ({b['batch_size']} a request, {b['connections']} conns), median of {reps}" + (
            f" ({runs('batch', 'events_per_second')})" if b.get("runs") else ""
        )
        if b.get("available") and b.get("median"):
            rows.append(
                (backend, label, _fmt(b["median"]["events_per_second"]), f">= {TARGETS['batch_events_per_second']}")
            )
            rows.append((backend, "batch events / ceiling", _fmt(h["ratios"]["batch_to_ceiling"], 3), "(reference)"))
            rows.append(
                (
                    backend,
                    f"batch HTTP statuses ({reps} runs) / per-event statuses (probe)",
                    f"{_statuses(b['runs'])} / "
                    + " ".join(f"{k}:{v}" for k, v in h["batch_probe"].get("per_event_statuses", {}).items()),
                    "all 2xx",
                )
            )
        else:
            rows.append(
                (
                    backend,
                    label,
                    f"not measured: HTTP {h.get('batch_probe', {}).get('http_status')}",
                    f">= {TARGETS['batch_events_per_second']}",
                )
            )
    backlog = set(h.get("phases_started_with_backlog", []))
    if backlog:
        rows.append(
            (
                backend,
                "phases begun before the worker's backlog drained (bounded wait)",
                ", ".join(sorted(backlog)),
                "(context)",
            )
        )
    for r in h.get("open_loop", []):
        pct = int(r["fraction_of_max"] * 100)
        rows.append(
            (
                backend,
                f"open loop {pct}% of max: offered/achieved per s, p50/p95/p99 ms",
                f"{_fmt(r['offered_per_second'])}/{_fmt(r['achieved_per_second'])}, "
                f"{_fmt(r['p50_ms'], 1)}/{_fmt(r['p95_ms'], 1)}/{_fmt(r['p99_ms'], 1)}",
                f"p99 <= {TARGETS['open_loop_50_p99_ms']}" if pct == 50 else "",
            )
        )
    lag = h.get("rank_change_lag")
    if lag is not None:
        drained = "drained" if lag.get("measured_after_drain") else "NOT drained"
        rows.append(
            (
                backend,
                f"rank-change lag p50/p95/p99/max s ({lag['count']} rows, "
                f"{lag['at_event_time']} at event time, {drained})",
                f"{_fmt(lag['p50_s'], 3)}/{_fmt(lag['p95_s'], 3)}/{_fmt(lag['p99_s'], 3)}/{_fmt(lag['max_s'], 3)}"
                if lag["count"]
                else "no rows",
                f"p99 <= {TARGETS['rank_change_lag_p99_s']} s",
            )
        )
    errs = h.get("server_errors") or {}
    if errs.get("tracebacks"):
        top = max(errs["by_exception"].items(), key=lambda kv: kv[1])
        rows.append(
            (
                backend,
                "exceptions in the gunicorn log during the run (most frequent)",
                f"{errs['tracebacks']} ({top[1]}x {top[0][:60]})",
                "none",
            )
        )
    failed = sum(q.get("failed", 0) for q in (h.get("queues_at_end") or {}).values())
    if failed:
        rows.append((backend, "failed RQ jobs during the run", str(failed), "none"))
    gen = h.get("generator_cpu_share_of_one_core")
    if gen:
        names = [k for k in ("ceiling", "single", "batch", "open_loop_25", "open_loop_50", "open_loop_75") if k in gen]
        rows.append(
            (
                backend,
                "generator CPU % of one core: " + "/".join(n.replace("open_loop_", "open ") for n in names),
                "/".join(_fmt(None if gen[n] is None else gen[n] * 100, 0) for n in names),
                "(not the bottleneck)",
            )
        )
    cpu_parts = []
    for name, m in (("ceiling", c), ("single", s)):
        if m and m.get("server_cpu_share_of_one_core"):
            v = {
                **m["server_cpu_share_of_one_core"],
                "generator": m.get("generator_cpu_share_of_one_core"),
                "other processes": m.get("other_processes_cpu_share_of_one_core"),
            }
            cpu_parts.append((name, v))
    if cpu_parts:
        names = list(cpu_parts[-1][1])
        rows.append(
            (
                backend,
                f"CPU % of one core, {'; '.join(n for n, _ in cpu_parts)}: "
                + "/".join(n.replace("_", " ") for n in names),
                "; ".join(
                    "/".join(_fmt(None if v.get(n) is None else v[n] * 100, 0) for n in names) for _name, v in cpu_parts
                ),
                "(where the time goes)",
            )
        )
    return rows


def table(results: dict) -> str:
    rows = [("backend", "measure", "result", "target")]
    for backend, r in results["runs"].items():
        h = r.get("http", {})
        rows += event_rows(backend, h)
        d = h.get("dashboard", {})
        if d:
            rows.append((backend, "dashboard p99 ms", f"{d['p99_ms']}", "< 50"))
        for k, label in (
            ("leaderboard_api", "leaderboard API top 50 + around me p99 ms"),
            ("leaderboard_page", "leaderboard page p99 ms"),
        ):
            v = r.get("leaderboards", {}).get(k)
            if v:
                rows.append((backend, f"{label} ({r['leaderboards']['players']} players)", f"{v['p99_ms']}", "< 50"))
        b = r.get("backfill", {})
        if b:
            rows.append((backend, f"backfill {b['players']} players", f"{b['seconds']} s", "< 10 s"))
        an = r.get("analytics", {})
        for path, v in an.items():
            if isinstance(v, dict) and v.get("target_ms"):
                label = f"analytics {path.split('/')[-1]} median ms ({an['players']} players, {an['days']} days)"
                rows.append((backend, label, f"{v['median_ms']}", f"< {v['target_ms']}"))
        rem = r.get("reminders", {})
        if rem.get("seconds") is not None:
            rows.append((backend, f"reminder selection {rem['players']} players", f"{rem['seconds']} s", "< 5 s"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    ap.add_argument("--only", choices=["postgres", "sqlite"])
    ap.add_argument("--parts", default="http,backfill,reminders,leaderboards,analytics")
    args = ap.parse_args()
    # A SIGTERM (make interrupted, a timeout) unwinds like Ctrl-C: gunicorn and the RQ worker are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parts = set(args.parts.split(","))
    t_start = time.perf_counter()
    if "http" in parts:
        from bench.wrk_load import wrk_binary

        wrk_binary()  # installs Debian's wrk when missing (scripts/wrk.sh)
    pg_url, redis_url = start_services()
    sqlite_url = f"sqlite:///{Path(tempfile.gettempdir()) / 'gamify-bench.db'}"
    backends = {"postgres": pg_url, "sqlite": sqlite_url}
    if args.only:
        backends = {args.only: backends[args.only]}
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "git_commit": sh("git", "rev-parse", "--short", "HEAD", check=False),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "parts": sorted(parts),
        "targets": TARGETS,
        "runs": {},
    }
    for name, url in backends.items():
        r = results["runs"][name] = {}
        print(f"== {name}", flush=True)
        if "http" in parts:
            r["http"] = bench_http(url, redis_url, args.quick, name)
        if "backfill" in parts:
            r["backfill"] = bench_backfill(url, redis_url, args.quick)
            print(json.dumps(r["backfill"]), flush=True)
        if "reminders" in parts:
            r["reminders"] = bench_reminders(url, redis_url, args.quick)
            print(json.dumps(r["reminders"]), flush=True)
        if "leaderboards" in parts:
            r["leaderboards"] = bench_leaderboard_scale(url, redis_url, args.quick)
            print(json.dumps(r["leaderboards"]), flush=True)
        if "analytics" in parts:
            from bench import analytics_bench

            r["analytics"] = analytics_bench.run(url, 20_000 if args.quick else 100_000, redis_url=redis_url)
            print(json.dumps(r["analytics"]), flush=True)
    results["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    out = ROOT / "bench" / "results.json"
    out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nwrote {out} ({results['wall_seconds']} s)")


if __name__ == "__main__":
    main()
