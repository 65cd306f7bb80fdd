"""Counts and aggregates the admin console shows: the overview on its home page, the analytics charts
and the work waiting in the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func

from .. import i18n
from ..extensions import db
from ..models import (
    Achievement,
    AchievementCompletion,
    ApiKey,
    BackfillRun,
    DomainEvent,
    EnergySettings,
    Metric,
    MetricEvent,
    PlayerEnergy,
    PointsBalance,
    PointsSystem,
    StreakPeriod,
    User,
)
from ..models._common import utcnow
from ..models.users import ROLE_PLAYER
from ..models.webhooks import EmailSend, WebhookDelivery
from . import achievements, points

RETENTION_DAYS = 7


def _count(stmt) -> int:
    return db.session.execute(stmt).scalar_one()


def overview(now: Optional[datetime] = None) -> dict:
    """The admin home page: players, recent activity, what is configured, the latest backfill runs."""
    now = now or utcnow()
    week_ago, day_ago = now - timedelta(days=7), now - timedelta(days=1)
    return {
        "players": achievements.player_count(),
        "active_7d": _count(
            db.select(func.count(func.distinct(MetricEvent.user_id))).where(MetricEvent.occurred_at >= week_ago)
        ),
        "events_24h": _count(db.select(func.count(MetricEvent.id)).where(MetricEvent.occurred_at >= day_ago)),
        "completions_7d": _count(
            db.select(func.count(AchievementCompletion.id)).where(
                AchievementCompletion.completed_at >= week_ago, AchievementCompletion.backdated.is_(False)
            )
        ),
        "counts": {
            "metrics": _count(db.select(func.count(Metric.id))),
            "achievements": _count(db.select(func.count(Achievement.id)).where(Achievement.status == "active")),
            "systems": _count(db.select(func.count(PointsSystem.id))),
            "keys": _count(db.select(func.count(ApiKey.id)).where(ApiKey.revoked_at.is_(None))),
        },
        "runs": list(
            db.session.execute(
                db.select(BackfillRun).order_by(BackfillRun.created_at.desc(), BackfillRun.id.desc()).limit(5)
            ).scalars()
        ),
    }


def outbox_backlog() -> dict:
    """Work written but not done yet: undispatched domain events, e-mails and webhook deliveries to send."""
    return {
        "events_pending": _count(db.select(func.count(DomainEvent.id)).where(DomainEvent.dispatched_at.is_(None))),
        "emails_pending": _count(
            db.select(func.count(EmailSend.id)).where(EmailSend.status.in_(("pending", "failed")))
        ),
        "deliveries_pending": _count(
            db.select(func.count(WebhookDelivery.id)).where(WebhookDelivery.status.in_(("pending", "retrying")))
        ),
    }


def charts() -> dict:
    """Everything the analytics page draws."""
    players = achievements.player_count()
    return {
        "players": players,
        "per_system": [
            {"system": s, "levels": level_distribution(s, players), "buckets": points_buckets(s, players)}
            for s in points.all_systems()
        ],
        "losses": streak_losses_by_weekday(),
        "energy": energy_distribution(),
        "completions": most_completed_achievements(),
        "retention": retention(),
    }


def level_distribution(system: PointsSystem, players: int) -> list[tuple[str, int]]:
    counts = dict(
        db.session.execute(
            db.select(PointsBalance.level_id, func.count(PointsBalance.user_id))
            .join(User, User.id == PointsBalance.user_id)
            .where(User.role == ROLE_PLAYER, PointsBalance.system_id == system.id)
            .group_by(PointsBalance.level_id)
        ).all()
    )
    rows = [(f"{lv.badge} {lv.name}".strip(), int(counts.get(lv.id, 0))) for lv in system.levels]
    placed = sum(n for _, n in rows)
    return [("No level yet", max(players - placed, 0))] + rows


def points_buckets(system: PointsSystem, players: int) -> list[tuple[str, int]]:
    """Players per order of magnitude of their balance (0, 1–9, 10–99, ...)."""
    balances = [
        b
        for (b,) in db.session.execute(
            db.select(PointsBalance.balance)
            .join(User, User.id == PointsBalance.user_id)
            .where(User.role == ROLE_PLAYER, PointsBalance.system_id == system.id, PointsBalance.balance > 0)
        ).all()
    ]
    edges = [1, 10, 100, 1_000, 10_000, 100_000]
    labels = ["1–9", "10–99", "100–999", "1k–9.9k", "10k–99k", "100k+"]
    counts = [0] * len(labels)
    for b in balances:
        i = 0
        while i + 1 < len(edges) and b >= edges[i + 1]:
            i += 1
        counts[i] += 1
    top = max((i for i, c in enumerate(counts) if c), default=2)
    return [("0", max(players - len(balances), 0))] + list(zip(labels, counts))[: max(top + 1, 3)]


def streak_losses_by_weekday() -> list[tuple[str, int]]:
    counts = [0] * 7
    for start, n in db.session.execute(
        db.select(StreakPeriod.period_start, func.count(StreakPeriod.id))
        .where(StreakPeriod.outcome == "broken")
        .group_by(StreakPeriod.period_start)
    ).all():
        counts[start.weekday()] += int(n)
    # Named in the reader's language: 'Tue' / 'mar'.
    return [(i18n.weekday_name(i, "abbreviated"), n) for i, n in enumerate(counts)]


def energy_distribution() -> tuple[list[tuple[str, int]], str]:
    """Players per energy level band as stored at each player's last energy change, and a note saying so
    (a chart does not regenerate every player). The settings row is read, not created."""
    settings = db.session.execute(db.select(EnergySettings).limit(1)).scalar_one_or_none()
    free_max = getattr(settings, "free_max", None) or 150
    premium_max = getattr(settings, "premium_max", None) or free_max
    labels = ["0–19%", "20–39%", "40–59%", "60–79%", "80–99%", "Full"]
    counts = [0] * 6
    for current, premium in db.session.execute(db.select(PlayerEnergy.current, PlayerEnergy.premium)).all():
        cap = premium_max if premium else free_max
        pct = 100.0 * (current or 0) / cap if cap else 0
        counts[5 if pct >= 100 else min(4, int(pct // 20))] += 1
    return list(
        zip(labels, counts)
    ), "As stored at each player's last energy change (regeneration since then not included)."


def most_completed_achievements(limit: int = 15) -> list[tuple[str, int, str]]:
    """(label, completions, status) of the achievements players complete most (inactive ones left out)."""
    return [
        (f"{a.badge} {a.name}", a.completion_count or 0, a.status)
        for a in db.session.execute(
            db.select(Achievement)
            .where(Achievement.status != "inactive")
            .order_by(Achievement.completion_count.desc(), Achievement.name)
            .limit(limit)
        ).scalars()
    ]


def retention(days: int = RETENTION_DAYS) -> list[dict]:
    """Players active in the last `days`, gamified against the control group."""
    since = utcnow() - timedelta(days=days)
    active = db.select(MetricEvent.user_id).where(MetricEvent.occurred_at >= since).distinct().subquery()
    rows = db.session.execute(
        db.select(User.control_group, func.count(User.id), func.count(active.c.user_id))
        .outerjoin(active, active.c.user_id == User.id)
        .where(User.role == ROLE_PLAYER)
        .group_by(User.control_group)
    ).all()
    by = {bool(g): (int(n), int(a)) for g, n, a in rows}
    out = []
    for flag, label in ((False, "Gamified"), (True, "Control group")):
        n, a = by.get(flag, (0, 0))
        out.append({"label": label, "players": n, "active": a, "rate": (100.0 * a / n) if n else None})
    return out
