"""Admin: metrics (what the host app reports: lessons, minutes, XP...)."""

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from ..extensions import db
from ..models import Achievement, Metric, MetricEvent, MetricTotal, PointsTrigger, StreakRequirement
from .base import bp
from .forms import key_validator


class MetricForm(FlaskForm):
    key = StringField(
        "Key",
        validators=[DataRequired(), Length(max=64), key_validator],
        description="Used by the API: POST /api/v1/metrics/<key>/events. Cannot change once events exist.",
    )
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    unit = StringField(
        "Unit", validators=[Length(max=32)], description="Plural, shown after numbers: “lessons”, “minutes”."
    )
    allow_negative = BooleanField(
        "Accept negative values",
        description="For corrections or scores that can drop. Off: an event with a negative value is refused (400).",
    )

    def __init__(self, *a, metric=None, **kw):
        super().__init__(*a, **kw)
        self._metric = metric

    def validate_key(self, field):
        q = db.select(Metric.id).where(Metric.key == field.data.strip())
        if self._metric is not None:
            q = q.where(Metric.id != self._metric.id)
        if db.session.execute(q).first():
            raise ValidationError("Another metric already uses this key.")
        if self._metric is not None and field.data != self._metric.key and _event_count(self._metric.id):
            raise ValidationError("This metric already has events; the host app sends them with the old key.")


def _event_count(metric_id: int) -> int:
    return db.session.execute(
        db.select(func.count(MetricEvent.id)).where(MetricEvent.metric_id == metric_id)
    ).scalar_one()


def _usage(metric_id: int) -> list[str]:
    uses = []
    n = _event_count(metric_id)
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


@bp.get("/metrics")
def metrics():
    rows = db.session.execute(
        db.select(Metric, func.count(MetricTotal.user_id), func.coalesce(func.sum(MetricTotal.total), 0))
        .outerjoin(MetricTotal, MetricTotal.metric_id == Metric.id)
        .group_by(Metric.id)
        .order_by(Metric.key)
    ).all()
    return render_template("admin/metrics.html", rows=rows)


@bp.route("/metrics/new", methods=["GET", "POST"])
def metric_new():
    form = MetricForm()
    if form.validate_on_submit():
        m = Metric(
            key=form.key.data.strip(),
            name=form.name.data.strip(),
            unit=(form.unit.data or "").strip(),
            allow_negative=form.allow_negative.data,
        )
        db.session.add(m)
        db.session.commit()
        flash(f"Metric “{m.name}” created. The host app can now send {m.key} events.", "success")
        return redirect(url_for("admin.metrics"))
    return render_template("admin/metric_form.html", form=form, metric=None), 400 if form.errors else 200


@bp.route("/metrics/<int:metric_id>/edit", methods=["GET", "POST"])
def metric_edit(metric_id: int):
    metric = db.get_or_404(Metric, metric_id)
    form = MetricForm(obj=metric, metric=metric)
    if form.validate_on_submit():
        metric.key, metric.name = form.key.data.strip(), form.name.data.strip()
        metric.unit = (form.unit.data or "").strip()
        metric.allow_negative = form.allow_negative.data
        db.session.commit()
        flash(f"Metric “{metric.name}” saved.", "success")
        return redirect(url_for("admin.metrics"))
    return render_template(
        "admin/metric_form.html", form=form, metric=metric, usage=_usage(metric.id)
    ), 400 if form.errors else 200


@bp.post("/metrics/<int:metric_id>/delete")
def metric_delete(metric_id: int):
    metric = db.get_or_404(Metric, metric_id)
    uses = _usage(metric.id)
    if uses:
        flash(f"“{metric.name}” cannot be deleted: it is used by {', '.join(uses)}.", "error")
        return redirect(url_for("admin.metric_edit", metric_id=metric.id))
    db.session.delete(metric)
    db.session.commit()
    flash(f"Metric “{metric.name}” deleted.", "success")
    return redirect(url_for("admin.metrics"))
