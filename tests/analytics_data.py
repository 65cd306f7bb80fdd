"""Random (seeded) source rows for the analytics tests: players, events in several zones, streak periods,
completions, points awards, energy transactions and deliveries, written directly (the rollups read
these tables; how the engine made them does not matter here)."""

import random
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from gamify.extensions import db
from gamify.models import (
    AchievementCompletion,
    EnergyTransaction,
    MetricEvent,
    PointsAward,
    StreakPeriod,
    User,
)
from gamify.models.messaging import NotificationDelivery
from tests import factories as f

ZONES = ("UTC", "Pacific/Auckland", "America/Los_Angeles", "Asia/Kolkata")
FIRST = date(2026, 3, 1)


def build(seed: int, players: int = 25, days: int = 20) -> dict:
    rnd = random.Random(seed)
    metrics = [f.metric("lessons"), f.metric("words", name="Words", unit="words")]
    systems = [
        f.system("xp", levels=(("l1", "One", 10), ("l2", "Two", 60))),
        f.system("gems"),
    ]
    achs = [f.achievement("a1", "metric", metric_id=metrics[0].id, threshold=5), f.achievement("a2", "streak")]
    users = []
    for i in range(players):
        tz = rnd.choice(ZONES)
        u = User(
            external_id=f"r{i}",
            timezone=tz,
            attributes={},
            control_group=rnd.random() < 0.3,
            created_at=datetime.combine(FIRST + timedelta(days=rnd.randrange(days)), time(9), tzinfo=timezone.utc),
        )
        db.session.add(u)
        users.append(u)
    db.session.flush()
    n = 0
    for u in users:
        zone = ZoneInfo(u.timezone)
        for d in range(days):
            day = FIRST + timedelta(days=d)
            if rnd.random() < 0.45:
                for _ in range(rnd.randint(1, 3)):
                    # Local times spread over the whole local day, so UTC days and local days differ.
                    local = datetime.combine(day, time(rnd.randrange(24), rnd.randrange(60)), tzinfo=zone)
                    at = local.astimezone(timezone.utc)
                    n += 1
                    db.session.add(
                        MetricEvent(
                            user_id=u.id,
                            metric_id=rnd.choice(metrics).id,
                            value=rnd.randint(1, 9),
                            occurred_at=at,
                            local_date=day,
                            timezone=u.timezone,
                            idempotency_key=f"k{n}",
                            attributes={},
                        )
                    )
                    sys_ = rnd.choice(systems)
                    db.session.add(
                        PointsAward(
                            user_id=u.id,
                            system_id=sys_.id,
                            amount=rnd.choice((5, 10, 20, -3)),
                            base_amount=5,
                            trigger_type="metric",
                            local_date=day,
                            awarded_at=at,
                        )
                    )
                    if rnd.random() < 0.3:
                        db.session.add(
                            EnergyTransaction(
                                user_id=u.id,
                                type=rnd.choice(("consumption", "token_refill", "gift_sent", "regeneration")),
                                amount=rnd.choice((-10, 10, 25)),
                                balance_before=50,
                                balance_after=60,
                                created_at=at,
                            )
                        )
            outcome = rnd.choice(("extended", "extended", "frozen", "broken", "paused", None))
            if outcome:
                db.session.add(
                    StreakPeriod(
                        user_id=u.id,
                        period_start=day,
                        period_end=day,
                        length=rnd.randint(1, 3) if outcome == "extended" else 0,
                        outcome=outcome,
                    )
                )
            if rnd.random() < 0.1:
                at = datetime.combine(day, time(rnd.randrange(24)), tzinfo=timezone.utc)
                db.session.add(
                    NotificationDelivery(
                        ref=f"ref-{u.id}-{d}",
                        type="streak_reminder",
                        channel=rnd.choice(("email", "push")),
                        status="sent",
                        user_id=u.id,
                        created_at=at,
                        sent_at=at,
                        clicked_at=at + timedelta(hours=rnd.choice((1, 20))) if rnd.random() < 0.5 else None,
                    )
                )
        for a in achs:
            if rnd.random() < 0.4:
                at = datetime.combine(
                    FIRST + timedelta(days=rnd.randrange(days)), time(rnd.randrange(24)), tzinfo=timezone.utc
                )
                db.session.add(
                    AchievementCompletion(user_id=u.id, achievement_id=a.id, completed_at=at, backdated=False)
                )
    db.session.flush()
    return {"users": users, "metrics": metrics, "systems": systems, "achievements": achs, "days": days}
