"""Analytics pages at scale: 100k players with 90 days of rollups (synthetic rows written straight into
analytics_daily_counts and player_activity_days, about 30 % of players active a day), then the trends,
retention, funnels and points pages rendered through the app as an admin, timed per request.

    .venv/bin/python bench/analytics_bench.py --db postgresql+psycopg://postgres@127.0.0.1:55432/gamify_bench
(bench/run.py --parts analytics runs it on both backends.)"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = (
    "/admin/analytics/trends?days=90&grain=day",
    "/admin/analytics/trends?days=90&grain=week",
    "/admin/analytics/retention",
)
# Live snapshots of the current state (funnels, balances), not rollups: timed, no target.
OTHER_PAGES = ("/admin/analytics/funnels", "/admin/analytics/points")
TARGET_MS = 200


def build(players: int, days: int) -> None:
    from sqlalchemy import insert, text

    from gamify.extensions import db
    from gamify.models import Achievement, DailyCount, Metric, PlayerActivityDay, PointsLevel, PointsSystem, User
    from gamify.models._common import utcnow

    rng = random.Random(11)
    now = utcnow()
    today = now.date()
    metrics = [Metric(key=f"m{i}", name=f"Metric {i}", unit="") for i in range(5)]
    systems = [PointsSystem(key=f"s{i}", name=f"System {i}") for i in range(3)]
    db.session.add_all(metrics + systems)
    db.session.flush()
    levels = [
        PointsLevel(system_id=systems[0].id, key=f"l{i}", name=f"L{i}", threshold=t)
        for i, t in enumerate((0, 100, 1000, 5000))
    ]
    achs = [Achievement(key=f"a{i}", name=f"A{i}", trigger="api", status="active") for i in range(20)]
    db.session.add_all(levels + achs)
    db.session.flush()
    for start in range(0, players, 10_000):
        db.session.execute(
            insert(User),
            [
                {
                    "external_id": f"u{i}",
                    "display_name": f"u{i}",
                    "timezone": "UTC",
                    "attributes": {},
                    "role": "player",
                    "control_group": i % 10 == 0,
                    "created_at": now - timedelta(days=rng.randrange(days)),
                }
                for i in range(start, min(players, start + 10_000))
            ],
        )
    ids = list(db.session.execute(db.select(User.id).order_by(User.id)).scalars())
    if db.session.get_bind().dialect.name == "postgresql":
        # One statement: each player from a random first day, active on about 30 % of the days after it.
        db.session.execute(
            text(
                "INSERT INTO player_activity_days (user_id, day) "
                "SELECT u.id, d::date FROM users u, generate_series(:first, :last, interval '1 day') d "
                "WHERE u.role = 'player' AND d::date >= (u.created_at AT TIME ZONE 'UTC')::date AND random() < 0.3"
            ),
            {"first": today - timedelta(days=days - 1), "last": today},
        )
    else:
        for start in range(0, len(ids), 5_000):
            rows = []
            for uid in ids[start : start + 5_000]:
                first = rng.randrange(days)
                rows += [
                    {"user_id": uid, "day": today - timedelta(days=d)}
                    for d in range(first + 1)
                    if d == first or rng.random() < 0.3
                ]
            db.session.execute(insert(PlayerActivityDay), rows)
    counts = []
    for d in range(days):
        day = today - timedelta(days=d)
        keys = [("events", str(m.id)) for m in metrics] + [("event_value", str(m.id)) for m in metrics]
        keys += [("active", k) for k in ("dau", "wau", "mau")] + [
            ("streak", k) for k in ("started", "extended", "frozen", "lost")
        ]
        keys += [("achievement", str(a.id)) for a in achs] + [("points", str(s.id)) for s in systems]
        keys += [("level", f"{systems[0].id}:{lv.id}") for lv in levels] + [
            ("energy", k) for k in ("spent", "refilled", "gifted")
        ]
        keys += [("notification", f"{c}:{w}") for c in ("email", "push") for w in ("sent", "clicked")]
        counts += [{"day": day, "kind": k, "key": key, "value": rng.randint(1, players)} for k, key in keys]
    db.session.execute(insert(DailyCount), counts)
    db.session.commit()


def retention_rollup(days: int) -> float:
    """The retention rollups of the whole history, as the first job run after the upgrade does them."""
    from gamify.extensions import db
    from gamify.models._common import utcnow
    from gamify.services import analytics_retention

    today = utcnow().date()
    t = time.perf_counter()
    analytics_retention.roll_up(today - timedelta(days=days - 1), today)
    db.session.commit()
    return round(time.perf_counter() - t, 1)


def run(db_url: str, players: int = 100_000, days: int = 90, repeat: int = 20, redis_url: str = "") -> dict:
    from bench.run import fresh_database, make_app
    from gamify.extensions import db
    from tests import factories as f

    fresh_database(db_url)
    app = make_app(db_url, redis_url or "redis://127.0.0.1:6392/0")
    out: dict = {"players": players, "days": days}
    with app.app_context():
        db.create_all()
        t0 = time.perf_counter()
        build(players, days)
        out["setup_seconds"] = round(time.perf_counter() - t0, 1)
        out["activity_rows"] = db.session.execute(db.text("SELECT COUNT(*) FROM player_activity_days")).scalar()
        out["retention_rollup_seconds"] = retention_rollup(days)
        f.admin()
        client = app.test_client()
        f.login(client, "admin@example.com")
        for path in PAGES + OTHER_PAGES:
            client.get(path)  # warm: templates compiled, caches filled
            times = []
            for _ in range(repeat if path in PAGES else max(3, repeat // 4)):
                t = time.perf_counter()
                r = client.get(path)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (path, r.status_code)
            times.sort()
            out[path] = {
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(times[-1], 1),
                "target_ms": TARGET_MS if path in PAGES else None,
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--players", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--redis", default="")
    args = ap.parse_args()
    print(json.dumps(run(args.db, args.players, args.days, redis_url=args.redis), indent=2))


if __name__ == "__main__":
    main()
