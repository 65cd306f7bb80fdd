"""The metrics catalogue as forms offer it: every metric, by name."""

from __future__ import annotations

from ..extensions import db
from ..models import Metric


def metrics_by_name() -> list[Metric]:
    return list(db.session.execute(db.select(Metric).order_by(Metric.name)).scalars())
