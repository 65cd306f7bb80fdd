"""Leaderboard reads at scale: the API (top 50 and "around me") and the player page, through gunicorn.

`scale()` builds the demo configuration (three boards with city/tier segments), bulk-inserts N players
and their `leaderboard_scores` rows with Core INSERTs (setup speed only: the events engine is measured
in bench_http), fills Redis with the real `flask leaderboards rebuild` command, then measures with
bench/load.py from a separate process. `http()` adds the same read measures to the event run (10k
players whose scores came from real events).
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

API_REQUESTS, PAGE_REQUESTS = 1000, 400
QUICK_API_REQUESTS, QUICK_PAGE_REQUESTS = 300, 120
CONCURRENCY = 2  # as the dashboard measure in bench/run.py: one client per gunicorn worker
RADIUS = 2  # neighbours each side in "around me" (the API default)


def _api_paths(rng: random.Random, boards: list[dict], external_ids: list[str], n: int) -> dict[str, list[str]]:
    """Top 50 of a board (global or a city segment) and a random player's "around me" on the board, in the
    whole board or in the player's own city (player i lives in CITIES[i % 12], as the setups make them)."""
    from gamify.demo import CITIES

    top, around = [], []
    for _ in range(n // 2):
        b = rng.choice(boards)
        seg = rng.choice(b["segments"])
        q = "" if seg == "global" else f"&segment={seg}"
        top.append(f"/api/v1/leaderboards/{b['key']}?limit=50{q}")
        i = rng.randrange(len(external_ids))
        q = f"&segment=city:{CITIES[i % len(CITIES)][0]}" if "city" in b["breakdown"] and rng.random() < 0.5 else ""
        around.append(f"/api/v1/leaderboards/{b['key']}/users/{external_ids[i]}?radius={RADIUS}{q}")
    mixed = [p for pair in zip(top, around) for p in pair]
    return {"mixed": mixed, "top50": top, "around_me": around}


def _page_paths(rng: random.Random, boards: list[dict], n: int) -> list[str]:
    """The player page of each board, whole board and the player's own city tab."""
    out = []
    for i in range(n):
        b = boards[i % len(boards)]
        seg = rng.choice(["global", "city:london"] if "city" in b["breakdown"] else ["global"])
        out.append(f"/leaderboards?board={b['key']}" + ("" if seg == "global" else f"&segment={seg}"))
    return out


def _measure(
    load,
    base_url: str,
    api_key: str,
    cookie: str,
    boards: list[dict],
    external_ids: list[str],
    n_api: int,
    n_page: int,
    seed: int,
) -> dict:
    rng = random.Random(seed)
    api = _api_paths(rng, boards, external_ids, n_api)
    headers = {"X-API-Key": api_key}
    spec = {"kind": "get", "base_url": base_url, "headers": headers, "concurrency": CONCURRENCY}
    # Warm-up: every worker compiles its SQL/templates and opens its connections once (not measured).
    load({**spec, "paths": _api_paths(random.Random(seed + 1), boards, external_ids, 120)["mixed"]})
    out = {
        "leaderboard_api": load({**spec, "paths": api["mixed"]}),
        "leaderboard_api_top50": load({**spec, "paths": api["top50"]}),
        "leaderboard_api_around_me": load({**spec, "paths": api["around_me"]}),
    }
    pages = _page_paths(rng, boards, n_page)
    page_spec = {"kind": "get", "base_url": base_url, "headers": {"Cookie": cookie}, "concurrency": CONCURRENCY}
    load({**page_spec, "paths": _page_paths(random.Random(seed + 2), boards, 60)})  # warm-up
    out["leaderboard_page"] = load({**page_spec, "paths": pages})
    return out


def _boards_spec() -> list[dict]:
    from gamify.demo import CITIES
    from gamify.extensions import db
    from gamify.models import Leaderboard

    out = []
    for b in db.session.execute(
        db.select(Leaderboard).where(Leaderboard.active.is_(True)).order_by(Leaderboard.id)
    ).scalars():
        segs = ["global"] + ([f"city:{c}" for c, _tz in CITIES] if "city" in (b.breakdown or []) else [])
        out.append({"key": b.key, "breakdown": list(b.breakdown or []), "segments": segs})
    return out


def http(base_url: str, info: dict, cookie: str, quick: bool) -> dict:
    """During the event run (scores written by real events): the same read measures, smaller."""
    from bench.run import load
    from gamify.demo import CITIES

    boards = [
        {"key": "weekly_lessons", "breakdown": ["city"], "segments": ["global"] + [f"city:{c}" for c, _ in CITIES]},
        {
            "key": "xp_all_time",
            "breakdown": ["city", "tier"],
            "segments": ["global"] + [f"city:{c}" for c, _ in CITIES],
        },
        {"key": "streaks", "breakdown": [], "segments": ["global"]},
    ]
    players = info.get("players", 2000 if quick else 10_000)
    ids = [f"bench-{i:05d}" for i in range(players)]
    r = _measure(
        load,
        base_url,
        info["api_key"],
        cookie,
        boards,
        ids,
        QUICK_API_REQUESTS // 2 if quick else QUICK_API_REQUESTS,
        QUICK_PAGE_REQUESTS // 2,
        seed=11,
    )
    return {"leaderboards_after_events": {k: r[k] for k in ("leaderboard_api", "leaderboard_page")}}


def scale(make_app, fresh_database, Gunicorn, load, db_url: str, redis_url: str, players: int) -> dict:
    import redis
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from bench.run import ROOT, login_cookie
    from gamify import demo, demo_extras
    from gamify.engine import leaderboards as lb_engine
    from gamify.extensions import db
    from gamify.models import Leaderboard, LeaderboardScore, User
    from gamify.models._common import utcnow
    from gamify.services import apikeys, leaderboards, users

    fresh_database(db_url)
    redis.Redis.from_url(redis_url).flushall()
    app = make_app(db_url, redis_url)
    rng = random.Random(17)
    t0 = time.perf_counter()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        demo.configure()
        demo_extras.configure()
        demo_extras.configure_leaderboards()
        _key, secret = apikeys.create("bench-leaderboards")
        web = users.signup(
            "bench@example.com",
            "bench-password",
            "Bench Player",
            "Europe/London",
            attributes={"city": "london", "tier": "free"},
        )
        db.session.commit()
        web_id = web.id

        now = utcnow()
        chunk = 10_000
        for start in range(0, players, chunk):
            rows = []
            for i in range(start, min(players, start + chunk)):
                city, tz = demo.CITIES[i % len(demo.CITIES)]
                rows.append(
                    {
                        "external_id": f"bench-{i:06d}",
                        "display_name": f"Bench {i}",
                        "timezone": tz,
                        "attributes": {"city": city, "tier": "premium" if rng.random() < 0.25 else "free"},
                        "role": "player",
                        "control_group": False,
                        "created_at": now,
                    }
                )
            db.session.execute(insert(User), rows)
        db.session.commit()
        people = db.session.execute(
            db.select(User.id, User.timezone, User.attributes).where(User.role == "player")
        ).all()
        boards = list(db.session.execute(db.select(Leaderboard).order_by(Leaderboard.id)).scalars())
        periods = {(b.id, tz): leaderboards.current_period(b, tz) for b in boards for _c, tz in demo.CITIES}
        periods.update({(b.id, "Europe/London"): leaderboards.current_period(b, "Europe/London") for b in boards})
        score_of = {
            "metric": lambda: float(rng.randint(1, 80)),
            "points": lambda: float(rng.randint(10, 8000)),
            "streak": lambda: float(rng.randint(1, 200)),
        }
        rows, inserted = [], 0
        for uid, tz, attrs in people:
            for b in boards:
                score = score_of[b.ranked_by]()
                if uid == web_id:  # mid-table, so pages show "around me" below the top 50
                    score = {"metric": 25.0, "points": 2500.0, "streak": 40.0}[b.ranked_by]
                achieved = now - timedelta(seconds=rng.randint(0, 6 * 86400))
                for seg in lb_engine.segments_for(attrs, b.breakdown or []):
                    rows.append(
                        {
                            "leaderboard_id": b.id,
                            "period": periods[(b.id, tz)],
                            "segment": seg,
                            "user_id": uid,
                            "score": score,
                            "achieved_at": achieved,
                            "version": 1,
                            "updated_at": now,
                        }
                    )
            if len(rows) >= 20_000:
                db.session.execute(insert(LeaderboardScore), rows)
                inserted += len(rows)
                rows = []
        if rows:
            db.session.execute(insert(LeaderboardScore), rows)
            inserted += len(rows)
        # The boards must be (re)built from SQL: mark them as a restore after an outage would find them.
        db.session.execute(db.update(Leaderboard).values(redis_dirty=True))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE users")
                conn.exec_driver_sql("VACUUM ANALYZE leaderboard_scores")
        setup_s = time.perf_counter() - t0
        board_specs = _boards_spec()

    # Redis from the SQL record through the real CLI command (`flask leaderboards rebuild`).
    t1 = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["leaderboards", "rebuild"])
    rebuild_s = time.perf_counter() - t1
    if result.exit_code != 0:
        raise RuntimeError(f"flask leaderboards rebuild failed: {result.output} {result.exception!r}")
    r = redis.Redis.from_url(redis_url)
    zcard = r.zcard("lb:{xp_all_time}:all:global")  # services/leaderboards/store.zkey: hash-tagged by board

    server = Gunicorn(db_url, redis_url)
    try:
        cookie = login_cookie(server.url, "bench@example.com", "bench-password")
        ids = [f"bench-{i:06d}" for i in range(players)]
        quick = players < 100_000
        measured = _measure(
            load,
            server.url,
            secret,
            cookie,
            board_specs,
            ids,
            QUICK_API_REQUESTS if quick else API_REQUESTS,
            QUICK_PAGE_REQUESTS if quick else PAGE_REQUESTS,
            seed=5,
        )
    finally:
        server.stop()
    return {
        "players": players,
        "score_rows": inserted,
        "setup_seconds": round(setup_s, 1),
        "rebuild_seconds": round(rebuild_s, 2),
        "redis_xp_global_members": zcard,
        "concurrency": CONCURRENCY,
        **measured,
    }
