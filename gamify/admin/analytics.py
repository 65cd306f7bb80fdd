"""Admin: analytics drawn as server-rendered inline SVG (templates/admin/_charts.html), no JS library."""

from __future__ import annotations

import importlib
from datetime import timedelta

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func
from wtforms.validators import InputRequired, NumberRange

from ..extensions import db
from ..fields import Whole
from ..models import Achievement, MetricEvent, PointsBalance, PointsSystem, StreakPeriod, User
from ..models._common import utcnow
from ..services import reminders
from ..web import ui
from .base import bp

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
RETENTION_DAYS = 7


def _players() -> int:
    return db.session.execute(db.select(func.count(User.id)).where(User.role == "player")).scalar_one()


def level_distribution(system: PointsSystem, players: int) -> list[tuple[str, int]]:
    counts = dict(
        db.session.execute(
            db.select(PointsBalance.level_id, func.count(PointsBalance.user_id))
            .join(User, User.id == PointsBalance.user_id)
            .where(User.role == "player", PointsBalance.system_id == system.id)
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
            .where(User.role == "player", PointsBalance.system_id == system.id, PointsBalance.balance > 0)
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
    rows = [("0", max(players - len(balances), 0))] + list(zip(labels, counts))[: max(top + 1, 3)]
    return rows


def streak_losses_by_weekday() -> list[tuple[str, int]]:
    counts = [0] * 7
    for start, n in db.session.execute(
        db.select(StreakPeriod.period_start, func.count(StreakPeriod.id))
        .where(StreakPeriod.outcome == "broken")
        .group_by(StreakPeriod.period_start)
    ).all():
        counts[start.weekday()] += int(n)
    return list(zip(WEEKDAYS, counts))


def energy_distribution() -> tuple[list[tuple[str, int]], str] | None:
    """Players per energy level band. Uses gamify.services.energy.level_distribution() when the energy
    feature offers it; otherwise the stored energy rows (as of each player's last change)."""
    dist = ui.optional_service("energy", "level_distribution")
    if dist is not None:
        return [(str(k), int(v)) for k, v in (dist.items() if isinstance(dist, dict) else dist)], ""
    try:
        models = importlib.import_module("gamify.models.energy")
    except ModuleNotFoundError:
        return None
    PlayerEnergy = getattr(models, "PlayerEnergy", None)
    EnergySettings = getattr(models, "EnergySettings", None)
    if PlayerEnergy is None:
        return None
    settings = db.session.execute(db.select(EnergySettings).limit(1)).scalar_one_or_none() if EnergySettings else None
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


def retention(days: int = RETENTION_DAYS) -> list[dict]:
    since = utcnow() - timedelta(days=days)
    active = db.select(MetricEvent.user_id).where(MetricEvent.occurred_at >= since).distinct().subquery()
    rows = db.session.execute(
        db.select(User.control_group, func.count(User.id), func.count(active.c.user_id))
        .outerjoin(active, active.c.user_id == User.id)
        .where(User.role == "player")
        .group_by(User.control_group)
    ).all()
    by = {bool(g): (int(n), int(a)) for g, n, a in rows}
    out = []
    for flag, label in ((False, "Gamified"), (True, "Control group")):
        n, a = by.get(flag, (0, 0))
        out.append({"label": label, "players": n, "active": a, "rate": (100.0 * a / n) if n else None})
    return out


@bp.get("/analytics")
def analytics():
    players = _players()
    systems = list(db.session.execute(db.select(PointsSystem).order_by(PointsSystem.id)).scalars())
    per_system = [
        {"system": s, "levels": level_distribution(s, players), "buckets": points_buckets(s, players)} for s in systems
    ]
    completions = [
        (f"{a.badge} {a.name}", a.completion_count or 0, a.status)
        for a in db.session.execute(
            db.select(Achievement)
            .where(Achievement.status != "inactive")
            .order_by(Achievement.completion_count.desc(), Achievement.name)
            .limit(15)
        ).scalars()
    ]
    return render_template(
        "admin/analytics.html",
        control=ControlForm(formdata=None, control_ratio=reminders.get_settings().control_ratio),
        players=players,
        per_system=per_system,
        losses=streak_losses_by_weekday(),
        energy=energy_distribution(),
        completions=completions,
        retention=retention(),
        retention_days=RETENTION_DAYS,
    )


class ControlForm(FlaskForm):
    control_ratio = Whole(
        "Control group (% of new players)",
        validators=[InputRequired(), NumberRange(min=0, max=50)],
        description="New players are assigned when first seen, by a stable hash of their id; control players get no "
        "gamification pages and no e-mails, their events still count, and the API answers carry control: true "
        "so the host app can hide its own gamification. Existing players keep their group.",
    )


@bp.post("/analytics/control")
def control_ratio():
    form = ControlForm()
    if form.validate_on_submit():
        reminders.update_settings(control_ratio=form.control_ratio.data)
        db.session.commit()
        flash(f"Control group: {form.control_ratio.data}% of new players.", "success")
    else:
        flash("; ".join(e for errs in form.errors.values() for e in errs), "error")
    return redirect(url_for("admin.analytics"))
