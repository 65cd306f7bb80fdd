"""Profile the event path in-process (no HTTP server): where does one event's time go?

    .venv/bin/python bench/profile_events.py --db sqlite:////tmp/gamify-prof.db --setup   # once
    .venv/bin/python bench/profile_events.py --db sqlite:////tmp/gamify-prof.db -n 500 [--profile]

Uses the same product configuration as bench/run.py (every feature on). Prints ms/event,
SQL statements/event, and with --profile the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from bench.run import fresh_database, make_app, setup_product  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--redis", default="redis://127.0.0.1:6392/0")
    ap.add_argument("--setup", action="store_true")
    ap.add_argument("--players", type=int, default=2000)
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--sort", default="cumulative")
    ap.add_argument("--batch", type=int, default=0, help="send the events through POST /api/v1/events, N a request")
    args = ap.parse_args()
    info_file = Path("/tmp") / ("gamify-prof-" + hashlib.md5(args.db.encode()).hexdigest()[:8] + ".json")
    if args.setup:
        fresh_database(args.db)
        import redis

        redis.Redis.from_url(args.redis).flushall()
        info = setup_product(make_app(args.db, args.redis), args.players)
        info_file.write_text(json.dumps(info))
        print("set up", info)
        return
    info = json.loads(info_file.read_text())
    app = make_app(args.db, args.redis)
    app.config["RQ_ASYNC"] = True  # as under gunicorn: the outbox dispatch is queued, not run inline
    client = app.test_client()
    reqs = load.event_requests(
        args.n + 100, args.players, info["api_key"], "lessons_completed", args.seed, action_fraction=0.3
    )
    import redis
    from sqlalchemy import event

    from gamify.extensions import db
    from gamify.services import leaderboards

    redis.Redis.from_url(args.redis).flushall()  # Redis must mirror this database, not a previous run's
    with app.app_context():
        leaderboards.rebuild()
        db.session.commit()
    counter = {"n": 0}
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", lambda *a, **k: counter.__setitem__("n", counter["n"] + 1))

    def send(batch):
        if args.batch:  # the same events, N per request through the batch endpoint
            for i in range(0, len(batch), args.batch):
                chunk = batch[i : i + args.batch]
                events = [{"metric": path.rsplit("/", 2)[-2], **json.loads(body)} for _m, path, _h, body in chunk]
                r = client.post("/api/v1/events", headers=chunk[0][2], data=json.dumps({"events": events}))
                assert r.status_code == 200, (r.status_code, r.data[:300])
                bad = [x for x in r.get_json()["results"] if x["status"] not in (201, 202)]
                assert not bad, bad[:3]
            return
        for method, path, headers, body in batch:
            r = client.open(path, method=method, headers=headers, data=body)
            assert r.status_code in (201, 202), (r.status_code, r.data[:300])

    send(reqs[:100])  # warm caches
    counter["n"] = 0
    prof = cProfile.Profile() if args.profile else None
    db_cpu0 = _db_cpu(app)
    t0, cpu0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    send(reqs[100:])
    if prof:
        prof.disable()
    dt, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    db_cpu = _db_cpu(app) - db_cpu0 if db_cpu0 is not None else None
    print(f"{args.n} events: {dt / args.n * 1000:.2f} ms/event, {counter['n'] / args.n:.1f} SQL statements/event")
    # CPU time is steadier than wall time on a shared machine: this process (Flask, SQLAlchemy, the
    # pipeline, drivers) and, for PostgreSQL on this machine, its server processes for this database.
    print(
        f"  CPU: {cpu / args.n * 1000:.2f} ms/event in this process"
        + (f", {db_cpu / args.n * 1000:.2f} ms/event in PostgreSQL backends" if db_cpu is not None else "")
    )
    if prof:
        Path("/tmp/prof").mkdir(exist_ok=True)
        prof.dump_stats("/tmp/prof/events.prof")
        st = pstats.Stats(prof)
        st.sort_stats(args.sort).print_stats(70)
    _worker_side(app, args)


def _worker_side(app, args) -> None:
    """What the worker then does for these events, in this process: the rank fan-out (the others' rank
    changes from the score log) and the outbox dispatch (domain events -> webhook deliveries, mails)."""
    from gamify.extensions import db
    from gamify.services import rank_fanout, webhooks

    prof = cProfile.Profile() if args.profile else None
    with app.app_context():
        for name, step in (("rank fan-out", rank_fanout.run_all), ("outbox dispatch", webhooks.dispatch_pending)):
            db_cpu0 = _db_cpu(app)
            t0, cpu0 = time.perf_counter(), time.process_time()
            if prof and name == "rank fan-out":
                prof.enable()
            out = step()
            db.session.commit()
            if prof and name == "rank fan-out":
                prof.disable()
            dt, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            db_cpu = _db_cpu(app) - db_cpu0 if db_cpu0 is not None else None
            made = out.get("rank_changes") if isinstance(out, dict) else getattr(out, "events", None)
            print(
                f"worker, {name}: {dt / args.n * 1000:.2f} ms/event wall, {cpu / args.n * 1000:.2f} ms/event CPU here"
                + (f", {db_cpu / args.n * 1000:.2f} ms/event in PostgreSQL" if db_cpu is not None else "")
                + (f"; {made} rows ({made / args.n:.1f}/event)" if made is not None else "")
            )
    if prof:
        prof.dump_stats("/tmp/prof/fanout.prof")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def _db_cpu(app):
    """CPU seconds used so far by the PostgreSQL backends serving this database (None for SQLite or
    when /proc is not readable)."""
    import os

    from gamify.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return None
        pids = (
            db.session.execute(db.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
            .scalars()
            .all()
        )
        db.session.rollback()
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


if __name__ == "__main__":
    main()
