"""Streak reminder selection at scale: N players with live streaks across 24 time zones.

Setup bulk-inserts players (with e-mail addresses) and `user_streaks` rows whose streak is alive but not
yet extended today in the player's local calendar (so every one of them is at risk), plus a few
opt-outs and already-reminded players. Then it times one run of the selection the scheduled job
`jobs.streak_reminders` runs: `reminders.select_streak_reminders(now)` plus its commit (who gets a
reminder now, and their ledger rows). SMTP sending is not part of it. A second run in the same period
(which must select nobody new) is timed as well.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

ZONES = [  # 24 zones, UTC-11 .. UTC+12/13
    "Pacific/Pago_Pago",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/Sao_Paulo",
    "Atlantic/South_Georgia",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Paris",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Noumea",
    "Pacific/Auckland",
]
OPTED_OUT = 0.02  # share of players who switched streak reminder e-mails off
ALREADY_REMINDED = 0.01  # share already holding a ledger row for today (an earlier run)


def run(make_app, fresh_database, db_url: str, redis_url: str, players: int) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import func, insert

    from bench.run import ROOT
    from gamify import demo
    from gamify.engine import calendar as cal
    from gamify.extensions import db
    from gamify.models import NotificationPreference, User, UserStreak
    from gamify.models.webhooks import EmailSend
    from gamify.services import reminders

    fresh_database(db_url)
    app = make_app(db_url, redis_url)
    rng = random.Random(23)
    # A fixed instant: 20:30 UTC, when the zones from UTC-1 to UTC+3 are in the reminder window
    # (local 19:00-24:00), about 5/24 of the players.
    today = datetime.now(timezone.utc).date()
    now = datetime(today.year, today.month, today.day, 20, 30, tzinfo=timezone.utc)
    t0 = time.perf_counter()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        demo.configure()  # daily streak, reminder hour 19 (messaging defaults)
        created = now - timedelta(days=200)
        chunk = 10_000
        for start in range(0, players, chunk):
            db.session.execute(
                insert(User),
                [
                    {
                        "external_id": f"rem-{i:06d}",
                        "email": f"rem-{i:06d}@bench.local",
                        "display_name": f"R {i}",
                        "timezone": ZONES[i % len(ZONES)],
                        "attributes": {},
                        "role": "player",
                        "control_group": False,
                        "created_at": created,
                    }
                    for i in range(start, min(players, start + chunk))
                ],
            )
        db.session.commit()
        people = db.session.execute(
            db.select(User.id, User.timezone).where(User.role == "player").order_by(User.id)
        ).all()
        yesterday = {tz: cal.local_date(now, tz) - timedelta(days=1) for tz in ZONES}
        rows, prefs, sent = [], [], []
        for uid, tz in people:
            length = rng.randint(1, 120)
            last = yesterday[tz]  # extended up to yesterday: today still needs activity
            if rng.random() < 0.05:
                last -= timedelta(days=1)  # missed yesterday: a freeze (if any) covers it when settled
            rows.append(
                {
                    "user_id": uid,
                    "length": length,
                    "longest": length + rng.randint(0, 30),
                    "started_on": last - timedelta(days=length - 1),
                    "last_extended": last,
                    "last_covered": last,
                    "progress_period": last,
                    "progress": {"lessons_completed": 1},
                    "periods_since_grant": length % 7,
                    "freezes": rng.randint(0, 2),
                    "updated_at": now,
                }
            )
            r = rng.random()
            if r < OPTED_OUT:
                prefs.append({"user_id": uid, "type": "streak_reminder", "channel": "email", "enabled": False})
            elif r < OPTED_OUT + ALREADY_REMINDED:
                period = cal.local_date(now, tz)
                sent.append(
                    {
                        "user_id": uid,
                        "type": "streak_reminder",
                        "period_start": period,
                        "ref": "",
                        "payload": {"length": length},
                        "status": "sent",
                        "attempts": 1,
                        "last_error": "",
                        "send_after": now - timedelta(minutes=15),
                        "created_at": now - timedelta(minutes=15),
                        "message_id": "",
                    }
                )
            if len(rows) >= chunk:
                db.session.execute(insert(UserStreak), rows)
                rows = []
        if rows:
            db.session.execute(insert(UserStreak), rows)
        if prefs:
            db.session.execute(insert(NotificationPreference), prefs)
        if sent:
            db.session.execute(insert(EmailSend), sent)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in ("users", "user_streaks", "email_sends", "notification_preferences"):
                    conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        setup_s = time.perf_counter() - t0
        in_window = sum(1 for _uid, tz in people if now.astimezone(cal.zone(tz)).hour >= 19)
        db.session.remove()

    with app.app_context():
        t1 = time.perf_counter()
        ids = reminders.select_streak_reminders(now)
        db.session.commit()
        seconds = time.perf_counter() - t1
        db.session.remove()
    with app.app_context():
        t2 = time.perf_counter()
        again = reminders.select_streak_reminders(now + timedelta(minutes=15))
        db.session.commit()
        rerun = time.perf_counter() - t2
        pending = db.session.execute(
            db.select(func.count(EmailSend.id)).where(
                EmailSend.type == "streak_reminder", EmailSend.status == "pending"
            )
        ).scalar_one()
    return {
        "players": players,
        "zones": len(ZONES),
        "now_utc": now.isoformat(),
        "players_in_window": in_window,
        "selected": len(ids),
        "seconds": round(seconds, 2),
        "rerun_selected": len(again),
        "rerun_seconds": round(rerun, 2),
        "pending_rows": pending,
        "setup_seconds": round(setup_s, 1),
    }
