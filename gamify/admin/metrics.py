"""Admin: metrics (what the host app reports: lessons, minutes, XP...)."""

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from ..extensions import db
from ..models import Metric
from ..services import metrics as metrics_svc
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
        if metrics_svc.key_taken(field.data.strip(), except_id=self._metric.id if self._metric else None):
            raise ValidationError("Another metric already uses this key.")
        if self._metric is not None and field.data != self._metric.key and metrics_svc.event_count(self._metric.id):
            raise ValidationError("This metric already has events; the host app sends them with the old key.")


def _fields(form: MetricForm) -> dict:
    return {
        "key": form.key.data.strip(),
        "name": form.name.data.strip(),
        "unit": (form.unit.data or "").strip(),
        "allow_negative": form.allow_negative.data,
    }


@bp.get("/metrics")
def metrics():
    return render_template("admin/metrics.html", rows=metrics_svc.with_totals())


@bp.route("/metrics/new", methods=["GET", "POST"])
def metric_new():
    form = MetricForm()
    if form.validate_on_submit():
        m = metrics_svc.save(None, **_fields(form))
        flash(f"Metric “{m.name}” created. The host app can now send {m.key} events.", "success")
        return redirect(url_for("admin.metrics"))
    return render_template("admin/metric_form.html", form=form, metric=None), 400 if form.errors else 200


@bp.route("/metrics/<int:metric_id>/edit", methods=["GET", "POST"])
def metric_edit(metric_id: int):
    metric = db.get_or_404(Metric, metric_id)
    form = MetricForm(obj=metric, metric=metric)
    if form.validate_on_submit():
        metrics_svc.save(metric, **_fields(form))
        flash(f"Metric “{metric.name}” saved.", "success")
        return redirect(url_for("admin.metrics"))
    return render_template(
        "admin/metric_form.html", form=form, metric=metric, usage=metrics_svc.usage(metric.id)
    ), 400 if form.errors else 200


@bp.post("/metrics/<int:metric_id>/delete")
def metric_delete(metric_id: int):
    metric = db.get_or_404(Metric, metric_id)
    uses = metrics_svc.usage(metric.id)
    if uses:
        flash(f"“{metric.name}” cannot be deleted: it is used by {', '.join(uses)}.", "error")
        return redirect(url_for("admin.metric_edit", metric_id=metric.id))
    metrics_svc.delete(metric)
    flash(f"Metric “{metric.name}” deleted.", "success")
    return redirect(url_for("admin.metrics"))
