"""Metrics: the catalogue of what the host app reports, as the admin defines it (keys, use, totals)."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import func

from ..extensions import db
from ..models import Achievement, Metric, MetricEvent, MetricTotal, PointsTrigger, StreakRequirement
from . import config_rules
from .config_rules import ConfigError


def list_by_name() -> list[Metric]:
    return list(db.session.execute(db.select(Metric).order_by(Metric.name)).scalars())


def with_totals() -> list:
    """(metric, players with a total, sum of their totals) for every metric, by key."""
    return db.session.execute(
        db.select(Metric, func.count(MetricTotal.user_id), func.coalesce(func.sum(MetricTotal.total), 0))
        .outerjoin(MetricTotal, MetricTotal.metric_id == Metric.id)
        .group_by(Metric.id)
        .order_by(Metric.key)
    ).all()


def key_taken(key: str, except_id: Optional[int] = None) -> bool:
    q = db.select(Metric.id).where(Metric.key == key)
    if except_id is not None:
        q = q.where(Metric.id != except_id)
    return db.session.execute(q).first() is not None


def event_count(metric_id: int) -> int:
    return db.session.execute(
        db.select(func.count(MetricEvent.id)).where(MetricEvent.metric_id == metric_id)
    ).scalar_one()


def usage(metric_id: int) -> list[str]:
    """What still uses the metric ("12 events", "achievements"...); empty when it can be deleted."""
    uses = []
    n = event_count(metric_id)
    if n:
        uses.append(f"{n} events")
    for model, label in (
        (StreakRequirement, "the streak requirements"),
        (Achievement, "achievements"),
        (PointsTrigger, "points triggers"),
    ):
        if db.session.execute(
            db.select(func.count()).select_from(model).where(model.metric_id == metric_id)
        ).scalar_one():
            uses.append(label)
    return uses


def check(metric: Optional[Metric], *, key: str, name: str, unit: str) -> dict:
    """The metric's settings, cleaned, or ConfigError naming the one to fix: a key of the allowed form that no
    other metric uses, and unchanged once events were recorded (the host app sends them with it)."""
    key = config_rules.key(key)
    if key_taken(key, except_id=metric.id if metric is not None else None):
        raise ConfigError("key", "Another metric already uses this key.")
    if metric is not None and key != metric.key and event_count(metric.id):
        raise ConfigError("key", "This metric already has events; the host app sends them with the old key.")
    return {
        "key": key,
        "name": config_rules.name(name),
        "unit": config_rules.optional_text(unit, "unit", 32),
    }


def save(metric: Optional[Metric], *, key: str, name: str, unit: str, allow_negative: bool) -> Metric:
    """Create (`metric` None) or update a metric (checked: ConfigError); flushed, so a new one has its id."""
    fields = check(metric, key=key, name=name, unit=unit)
    if metric is None:
        metric = Metric()
        db.session.add(metric)
    metric.key, metric.name, metric.unit = fields["key"], fields["name"], fields["unit"]
    metric.allow_negative = bool(allow_negative)
    db.session.flush()
    return metric


def delete(metric: Metric) -> None:
    """Delete a metric nothing uses; ConfigError naming what still does otherwise."""
    uses = usage(metric.id)
    if uses:
        raise ConfigError("metric", f"“{metric.name}” cannot be deleted: it is used by {', '.join(uses)}.")
    db.session.delete(metric)
