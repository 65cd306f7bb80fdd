"""The event measures, all in one run against one gunicorn (-w 2) with an RQ worker beside it:

(a) ceiling: the event POST refused at the API-key check (wrong X-API-Key, 401), wrk closed loop,
    REPS times before any event is sent (an idle worker: no backlog of earlier events eats the reference);
(b) single events: POST /api/v1/metrics/<key>/event, random players, unique idempotency keys, 30 %
    energy actions, wrk closed loop at saturation;
(c) batch ingest: POST /api/v1/events with BATCH_SIZE events a request, wrk closed loop;
    (b) and (c) interleaved REPS times; medians reported for (a), (b), (c);
(d) single events at fixed offered rates (25/50/75 % of the median events/s of (b)), open loop
    (bench/openloop.py), latency from each request's intended start;
(e) rank-change lag: for the others' rank changes (domain_events leaderboard.rank_changed with
    by_user_id), created_at minus the event's metric_events.occurred_at, read from the database once the
    RQ queues are drained.

After each event phase of the closed loop the harness waits (at most DRAIN_TIMEOUT_S) for the worker
to go idle, before each open-loop phase and before reading the lag at most LONG_DRAIN_TIMEOUT_S; phases
that still began with a backlog are listed in `phases_started_with_backlog`. Every load phase records the
generator's CPU (share of one core, from wait4), the server's (gunicorn, RQ worker, PostgreSQL backends)
and the machine's.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import wrk_load
from gamify.models._common import utcnow

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
METRIC = "lessons_completed"
REPS = 3  # the closed-loop phases, interleaved; medians reported
CONNECTIONS = 8  # closed loop, single events and the ceiling (gunicorn has 2 sync workers)
BATCH_SIZE = 100
BATCH_CONNECTIONS = 4
OPEN_LOOP_FRACTIONS = (0.25, 0.50, 0.75)
DRAIN_TIMEOUT_S = 15  # wait at most this long for the worker to go idle after a closed-loop phase
# ... and before each open-loop phase and before reading the lag: those measure what a given load costs,
# so they should not inherit the previous phase's backlog.
LONG_DRAIN_TIMEOUT_S = 45
QUEUES = ("default", "mail")
# The worker runs the queued jobs only: the recurring jobs (reminders, streak settling, recaps every
# 15 min) are not part of the event pipeline and would land at random points of the measurement.
WORKER_ARGS = ["--no-cron", "--logging-level", "WARNING"]


def durations(quick: bool) -> dict:
    if quick:
        return {"warmup": 3, "ceiling": 4, "single": 6, "batch": 6, "open_loop": 10}
    return {"warmup": 5, "ceiling": 8, "single": 12, "batch": 10, "open_loop": 20}


# ----------------------------------------------------------------------------- the RQ worker


class RQWorker:
    """`python -m gamify.worker` beside gunicorn, with the same database and Redis."""

    def __init__(self, db_url: str, redis_url: str, log_path: Path):
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "RATELIMIT_ENABLED": "0",
            "SECRET_KEY": "bench",
        }
        self.log_path, self.redis_url = log_path, redis_url
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [PY, "-m", "gamify.worker", *WORKER_ARGS], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        import redis
        from rq import Worker

        conn = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # registered with Redis = listening
            if self.proc.poll() is not None:
                raise RuntimeError(f"RQ worker exited ({self.proc.returncode}); see {log_path}")
            if Worker.count(connection=conn) > 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"RQ worker did not register within 30 s; see {log_path}")

    def _tree(self) -> list[int]:
        """The worker, its scheduler process and its work horse (which runs in its own process group)."""
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo += wrk_load._children(pid)
        return out

    def stop(self) -> dict:
        alive = self.proc.poll() is None
        if alive:
            tree = self._tree()
            self.proc.terminate()  # warm shutdown: finishes the job in hand
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.terminate()  # a second SIGTERM: cold shutdown, the work horse is killed
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    for pid in tree:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    self.proc.wait(5)
        self._log.close()
        return {"alive_until_stopped": alive, "exit_code": self.proc.returncode, "log": str(self.log_path)}


def queue_backlog(redis_url: str) -> dict:
    import redis
    from rq import Queue

    conn = redis.Redis.from_url(redis_url)
    out = {}
    for name in QUEUES:
        q = Queue(name, connection=conn)
        out[name] = {
            "queued": q.count,
            "started": q.started_job_registry.count,
            "failed": q.failed_job_registry.count,
            "finished": q.finished_job_registry.count,
        }
    return out


def wait_quiet(db: "Db", timeout_s: float = 60) -> dict:
    """Until no new event was recorded for 1 s, at most timeout_s: requests the server had accepted when
    the generator stopped (queued in gunicorn's backlog, a batch half done) finish before the next phase."""
    t0 = time.monotonic()
    last, still = db.max_event_id(), 0
    while time.monotonic() - t0 < timeout_s:
        time.sleep(0.5)
        now = db.max_event_id()
        still = still + 1 if now == last else 0
        last = now
        if still >= 2:
            return {"quiet": True, "seconds": round(time.monotonic() - t0, 1)}
    return {"quiet": False, "seconds": round(time.monotonic() - t0, 1)}


def wait_drained(redis_url: str, db: "Db", timeout_s: float = DRAIN_TIMEOUT_S) -> dict:
    """Until no job is queued or running and no domain event was written, twice in a row 0.5 s apart
    (a debounced job may leave the queue empty for a moment while work remains), at most timeout_s."""
    t0 = time.monotonic()
    calm, last_id = 0, None
    while True:
        b = queue_backlog(redis_url)
        busy = sum(q["queued"] + q["started"] for q in b.values())
        top = db.max_domain_event_id()
        calm = calm + 1 if busy == 0 and top == last_id else 0
        last_id = top
        waited = time.monotonic() - t0
        if calm >= 2 or waited >= timeout_s:
            return {"drained": calm >= 2, "seconds": round(waited, 1), "jobs_left": busy}
        time.sleep(0.5)


# ----------------------------------------------------------------------------- database look-ups


class Db:
    """The orchestrator's own read-only view of the bench database (counts, ids, the lag query)."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.engine = create_engine(url, poolclass=NullPool)
        self.dialect = self.engine.dialect.name

    def scalar(self, sql: str, **params):
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def max_event_id(self) -> int:
        return int(self.scalar("SELECT COALESCE(MAX(id), 0) FROM metric_events"))

    def events_in_window(self, lo: int, t0, t1) -> int:
        """Events (id > lo) processed between t0 and t1 (their occurred_at, set as the server handles them)."""
        from sqlalchemy import func, select

        from gamify.models import MetricEvent

        q = (
            select(func.count())
            .select_from(MetricEvent)
            .where(MetricEvent.id > lo, MetricEvent.occurred_at >= t0, MetricEvent.occurred_at < t1)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar())

    def max_domain_event_id(self) -> int:
        return int(self.scalar("SELECT COALESCE(MAX(id), 0) FROM domain_events"))

    def events_between(self, lo: int, hi: int) -> int:
        return int(self.scalar("SELECT COUNT(*) FROM metric_events WHERE id > :lo AND id <= :hi", lo=lo, hi=hi))

    def lag_rows(self) -> list[tuple[int, float]]:
        """(metric event id, seconds from the event's occurred_at to the rank change's created_at) for
        every others' rank change (payload has by_user_id)."""
        from sqlalchemy import text

        if self.dialect == "postgresql":
            has_key = "(d.payload -> 'by_user_id') IS NOT NULL"
            lag = "EXTRACT(EPOCH FROM (d.created_at - m.occurred_at))"
        else:
            has_key = "json_type(d.payload, '$.by_user_id') IS NOT NULL"
            lag = "(julianday(d.created_at) - julianday(m.occurred_at)) * 86400.0"
        sql = (
            f"SELECT m.id, {lag} FROM domain_events d JOIN metric_events m ON m.id = d.source_event_id "
            f"WHERE d.type = 'leaderboard.rank_changed' AND {has_key}"
        )
        with self.engine.connect() as conn:
            return [(int(i), float(s)) for i, s in conn.execute(text(sql))]

    def dispose(self) -> None:
        self.engine.dispose()


# ----------------------------------------------------------------------------- helpers


def _pct(sorted_values: list[float], p: float):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def lag_stats(values: list[float]) -> dict:
    v = sorted(values)
    r = lambda x: None if x is None else round(x, 4)  # noqa: E731
    return {
        "count": len(v),
        "p50_s": r(_pct(v, 50)),
        "p95_s": r(_pct(v, 95)),
        "p99_s": r(_pct(v, 99)),
        "max_s": r(v[-1] if v else None),
        # written inside the event's own transaction (created_at = the event's time): no worker lag
        "at_event_time": sum(1 for x in v if abs(x) < 0.001),
    }


def other_cpu(r: dict) -> float | None:
    """CPU the rest of the machine used during a phase (other processes: on a shared machine, the noise),
    as a share of one core: the machine's busy time minus the server's and the generator's."""
    g, srv = r.get("generator_cpu") or {}, r.get("server_cpu_share_of_one_core") or {}
    if g.get("machine_busy_share") is None:
        return None
    return round(
        max(0.0, g["machine_busy_share"] * (os.cpu_count() or 1) - sum(srv.values()) - g["share_of_one_core"]), 3
    )


def median_of(runs: list[dict], keys: tuple[str, ...]) -> dict:
    out = {}
    for k in keys:
        vals = [r[k] for r in runs if r.get(k) is not None]
        out[k] = round(statistics.median(vals), 2) if vals else None
    shares = [r["generator_cpu"]["share_of_one_core"] for r in runs if r.get("generator_cpu")]
    machine = [
        r["generator_cpu"]["machine_busy_share"]
        for r in runs
        if r.get("generator_cpu") and r["generator_cpu"].get("machine_busy_share") is not None
    ]
    out["generator_cpu_share_of_one_core"] = round(statistics.median(shares), 3) if shares else None
    others = [
        r["other_processes_cpu_share_of_one_core"]
        for r in runs
        if r.get("other_processes_cpu_share_of_one_core") is not None
    ]
    out["other_processes_cpu_share_of_one_core"] = round(statistics.median(others), 3) if others else None
    servers = [r["server_cpu_share_of_one_core"] for r in runs if r.get("server_cpu_share_of_one_core")]
    if servers:
        out["server_cpu_share_of_one_core"] = {
            k: round(statistics.median(s[k] for s in servers), 3) for k in servers[0]
        }
    out["machine_busy_share"] = round(statistics.median(machine), 3) if machine else None
    return out


def _post_json(url: str, api_key: str, body: dict, timeout: float = 120) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"X-API-Key": api_key, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def probe_batch(base_url: str, api_key: str, players: int, n: int, nonce: str) -> dict:
    """One batch sent and parsed in full: is the endpoint there, and the per-event statuses it answers."""
    import random

    rng = random.Random(7)
    events = []
    for i in range(n):
        ev = {
            "metric": METRIC,
            "user": {"id": f"bench-{rng.randrange(players):05d}"},
            "value": 1,
            "idempotency_key": f"{nonce}-{i}",
        }
        if rng.random() < 0.3:
            ev.update(action="lesson", difficulty=rng.choice(("easy", "medium", "medium", "hard")))
        events.append(ev)
    t0 = time.perf_counter()
    status, body = _post_json(base_url + "/api/v1/events", api_key, {"events": events})
    seconds = time.perf_counter() - t0
    out = {"http_status": status, "events": n, "seconds": round(seconds, 3)}
    if status != 200:
        out["available"] = False
        out["body_head"] = body[:200].decode(errors="replace")
        out["note"] = (
            "POST /api/v1/events is not on this branch (404): batch ingest not measured"
            if status == 404
            else f"POST /api/v1/events answered {status}: batch ingest not measured"
        )
        return out
    try:
        results = json.loads(body)["results"]
    except (ValueError, KeyError, TypeError):
        return {
            **out,
            "available": False,
            "note": "200 without a results list: batch ingest not measured",
            "body_head": body[:200].decode(errors="replace"),
        }
    per_event: dict[str, int] = {}
    for r in results:
        k = str(r.get("status")) if isinstance(r, dict) else "malformed"
        per_event[k] = per_event.get(k, 0) + 1
    out.update(available=True, results=len(results), per_event_statuses=dict(sorted(per_event.items())))
    return out


# ----------------------------------------------------------------------------- the phases


def run(
    base_url: str,
    db_url: str,
    redis_url: str,
    api_key: str,
    players: int,
    quick: bool,
    action_fraction: float,
    label: str,
    server_pids: dict[str, int],
    worker: RQWorker,
) -> dict:
    """(a)-(d); returns the raw runs, medians, ratios and the metric_events id range of every phase
    (for the lag breakdown). The caller drains the queues and calls `lag()` afterwards."""
    d = durations(quick)
    db = Db(db_url)
    from sqlalchemy.engine import make_url

    pg_database = make_url(db_url).database if db.dialect == "postgresql" else None

    def server_cpu():
        return wrk_load.ServerCpu(server_pids, pg_database)

    stamp = time.strftime("%H%M%S")
    phases: list[dict] = []  # {"phase", "rep", "lo", "hi", "backlog_at_start"}: metric_events id ranges
    drains: list[dict] = [{"drained": True}]

    def wrk(phase: str, mode: str, key: str, seconds: float, rep: int, **kw) -> dict:
        lo = db.max_event_id()
        t0 = utcnow()
        with server_cpu() as cpu:
            r = wrk_load.run(
                base_url,
                mode=mode,
                api_key=key,
                metric=METRIC,
                players=players,
                seconds=seconds,
                nonce=f"{label}-{phase}-{rep}-{stamp}",
                action_fraction=action_fraction,
                seed=rep * 17 + len(phases) + 1,
                **kw,
            )
        t1 = utcnow()
        r["server_cpu_share_of_one_core"] = cpu.result
        r["other_processes_cpu_share_of_one_core"] = other_cpu(r)
        r["settle_after"] = wait_quiet(db)
        # A refused request queues nothing: no need to wait for the worker after the ceiling.
        drain = wait_drained(redis_url, db) if phase != "ceiling" else drains[-1]
        hi = db.max_event_id()
        r["recorded_events"] = db.events_between(lo, hi)
        # Events the server processed while the generator ran, from the database: independent of how many
        # answers came back in time (a batch still being processed at the end counts for what it did).
        r["recorded_in_window"] = db.events_in_window(lo, t0, t1)
        r["recorded_per_second"] = round(r["recorded_in_window"] / (t1 - t0).total_seconds(), 1)
        r["drain_after"] = drain if phase != "ceiling" else None
        drains.append(drain)
        phases.append({"phase": phase, "rep": rep, "lo": lo, "hi": hi, "backlog_at_start": not drains[-2]["drained"]})
        return r

    out: dict = {"durations_s": d, "reps": REPS, "connections": CONNECTIONS, "action_fraction": action_fraction}
    # (a) first, before any event: the worker's fan-out of earlier events would eat the reference (one
    # job processes everything pending, so it cannot be paused between jobs; SIGSTOP would freeze it
    # holding SQLite's write lock). The setup's own jobs are waited for.
    drains.append(wait_drained(redis_url, db, LONG_DRAIN_TIMEOUT_S))
    out["drain_before_ceiling"] = drains[-1]
    out["ceiling_warmup"] = wrk("ceiling_warmup", "single", "not-a-key", d["warmup"], 0, connections=CONNECTIONS)
    ceiling = [
        wrk("ceiling", "single", "not-a-key", d["ceiling"], rep, connections=CONNECTIONS) for rep in range(1, REPS + 1)
    ]
    print("   ceiling: " + ", ".join(f"{c['per_second']}" for c in ceiling) + " req/s", flush=True)
    # Warm-up of the event path: every gunicorn worker imports, connects and caches (not reported).
    out["warmup"] = wrk("warmup", "single", api_key, d["warmup"], 0, connections=CONNECTIONS)
    batch_probe = probe_batch(base_url, api_key, players, BATCH_SIZE, f"{label}-probe-{stamp}")
    out["batch_probe"] = batch_probe
    print(f"   batch probe: {json.dumps({k: v for k, v in batch_probe.items() if k != 'body_head'})}", flush=True)

    single, batch = [], []
    for rep in range(1, REPS + 1):
        single.append(wrk("single", "single", api_key, d["single"], rep, connections=CONNECTIONS))
        if batch_probe.get("available"):
            b = wrk("batch", "batch", api_key, d["batch"], rep, connections=BATCH_CONNECTIONS, batch_size=BATCH_SIZE)
            b["events_per_second"] = b["recorded_per_second"]
            b["http_ok_events_per_second"] = round(b["events_sent_ok"] / b["seconds"], 1)
            batch.append(b)
        print(
            f"   rep {rep}: single {single[-1]['ok_per_second']} events/s"
            + (f", batch {batch[-1]['events_per_second']} events/s" if batch else ""),
            flush=True,
        )

    keys = ("per_second", "ok_per_second", "recorded_per_second", "p50_ms", "p95_ms", "p99_ms")
    out["ceiling"] = {"runs": ceiling, "median": median_of(ceiling, keys)}
    out["single"] = {"runs": single, "median": median_of(single, keys)}
    out["batch"] = {
        "available": bool(batch_probe.get("available")),
        "batch_size": BATCH_SIZE,
        "connections": BATCH_CONNECTIONS,
        "runs": batch,
        "median": median_of(batch, ("events_per_second", "http_ok_events_per_second", "per_second", "p50_ms", "p99_ms"))
        if batch
        else None,
    }
    if not batch:
        out["batch"]["note"] = batch_probe.get("note")

    ceil = out["ceiling"]["median"]["per_second"]
    eps = out["single"]["median"]["ok_per_second"]
    beps = out["batch"]["median"]["events_per_second"] if batch else None
    out["ratios"] = {  # medians over medians; the ceiling runs come first, so runs do not pair up
        "event_to_ceiling": round(eps / ceil, 4) if ceil and eps is not None else None,
        "batch_to_ceiling": round(beps / ceil, 4) if ceil and beps is not None else None,
    }

    # (d) open loop at fixed shares of the measured maximum.
    open_loop = []
    if eps:
        for frac in OPEN_LOOP_FRACTIONS:
            drains.append(wait_drained(redis_url, db, LONG_DRAIN_TIMEOUT_S))
            rate = max(1.0, eps * frac)
            n = max(20, min(50_000, int(round(rate * d["open_loop"]))))
            lo = db.max_event_id()
            spec = {
                "base_url": base_url,
                "api_key": api_key,
                "metric": METRIC,
                "players": players,
                "action_fraction": action_fraction,
                "rate": rate,
                "n": n,
                "seed": int(frac * 100),
                "nonce": f"{label}-open{int(frac * 100)}-{stamp}",
                "drain": 30,
            }
            with server_cpu() as scpu:
                stdout, stderr, rc, cpu = wrk_load.run_measured(
                    [PY, str(ROOT / "bench" / "openloop.py"), json.dumps(spec)], timeout_s=n / rate + 90
                )
            if rc != 0:
                raise RuntimeError(f"open-loop generator failed ({rc}): {stderr[-800:]}")
            r = json.loads(stdout.strip().splitlines()[-1])
            r["fraction_of_max"] = frac
            r["drain_before"] = drains[-1]
            r["generator_cpu"] = cpu
            r["server_cpu_share_of_one_core"] = scpu.result
            r["other_processes_cpu_share_of_one_core"] = other_cpu(r)
            r["settle_after"] = wait_quiet(db)
            hi = db.max_event_id()
            r["recorded_events"] = db.events_between(lo, hi)
            phases.append(
                {
                    "phase": f"open_loop_{int(frac * 100)}",
                    "rep": 1,
                    "lo": lo,
                    "hi": hi,
                    "backlog_at_start": not r["drain_before"]["drained"],
                }
            )
            open_loop.append(r)
            print(
                f"   open loop {int(frac * 100)}%: offered {r['offered_per_second']}/s achieved "
                f"{r['achieved_per_second']}/s p50/p95/p99 {r['p50_ms']}/{r['p95_ms']}/{r['p99_ms']} ms",
                flush=True,
            )
    else:
        out["open_loop_note"] = "no events/s measured in the closed loop: open loop skipped"
    out["open_loop"] = open_loop

    gen = {
        "warmup": out["warmup"]["generator_cpu"]["share_of_one_core"],
        "ceiling": out["ceiling"]["median"]["generator_cpu_share_of_one_core"],
        "single": out["single"]["median"]["generator_cpu_share_of_one_core"],
    }
    if batch:
        gen["batch"] = out["batch"]["median"]["generator_cpu_share_of_one_core"]
    for r in open_loop:
        gen[f"open_loop_{int(r['fraction_of_max'] * 100)}"] = r["generator_cpu"]["share_of_one_core"]
    out["generator_cpu_share_of_one_core"] = gen
    out["phases"] = phases
    # A phase that began while the worker still had the previous phase's backlog shares the machine with it.
    out["phases_started_with_backlog"] = sorted(
        {f"{p['phase']}" + (f" {p['rep']}" if p["rep"] else "") for p in phases if p["backlog_at_start"]}
    )
    db.dispose()
    return out


def finish(db_url: str, redis_url: str, events: dict) -> None:
    """After the load: wait (bounded) until the worker is done, then read the rank-change lag."""
    db = Db(db_url)
    try:
        events["final_drain"] = wait_drained(redis_url, db, LONG_DRAIN_TIMEOUT_S)
    finally:
        db.dispose()
    events["queues_at_end"] = queue_backlog(redis_url)
    events["rank_change_lag"] = lag(db_url, events["phases"])
    events["rank_change_lag"]["measured_after_drain"] = events["final_drain"]["drained"]


def lag(db_url: str, phases: list[dict]) -> dict:
    """(e) from the database: overall and per phase (by metric_events id range)."""
    db = Db(db_url)
    try:
        rows = db.lag_rows()
    finally:
        db.dispose()
    out = lag_stats([s for _i, s in rows])
    out["events_with_rows"] = len({i for i, _s in rows})
    by_phase: dict[str, list[float]] = {}
    for p in phases:
        by_phase.setdefault(p["phase"], [])
    for i, s in rows:
        for p in phases:
            if p["lo"] < i <= p["hi"]:
                by_phase[p["phase"]].append(s)
                break
    out["by_phase"] = {k: lag_stats(v) for k, v in by_phase.items() if k != "ceiling"}
    for k, v in out["by_phase"].items():
        v["started_with_backlog"] = any(p["backlog_at_start"] for p in phases if p["phase"] == k)
    return out
