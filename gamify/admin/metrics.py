"""Admin: metrics (what the host app reports: lessons, minutes, XP...)."""

from typing import Optional

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..i18n import _, _l
from ..models import Metric
from ..services import metrics as metrics_svc
from ..services.config_rules import ConfigError
from .base import bp
from .forms import key_validator, show_refusal


class MetricForm(FlaskForm):
    # The rules (key form and uniqueness, a key kept once events exist) are the service's: metrics.check.
    key = StringField(
        _l("Key"),
        validators=[DataRequired(), Length(max=64), key_validator],
        description=_l("Used by the API: POST /api/v1/metrics/<key>/events. Cannot change once events exist."),
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    unit = StringField(
        _l("Unit"), validators=[Length(max=32)], description=_l("Plural, shown after numbers: “lessons”, “minutes”.")
    )
    allow_negative = BooleanField(
        _l("Accept negative values"),
        description=_l(
            "For corrections or scores that can drop. Off: an event with a negative value is refused (400)."
        ),
    )


def _fields(form: MetricForm) -> dict:
    return {
        "key": form.key.data,
        "name": form.name.data,
        "unit": form.unit.data or "",
        "allow_negative": form.allow_negative.data,
    }


def _save(form: MetricForm, metric: Optional[Metric]) -> Optional[Metric]:
    """The metric saved, or None with the service's refusal shown on the form."""
    if not form.validate_on_submit():
        return None
    try:
        return metrics_svc.save(metric, **_fields(form))
    except ConfigError as e:
        show_refusal(form, e)
        return None


@bp.get("/metrics")
def metrics():
    return render_template("admin/metrics.html", rows=metrics_svc.with_totals())


@bp.route("/metrics/new", methods=["GET", "POST"])
def metric_new():
    form = MetricForm()
    m = _save(form, None)
    if m is not None:
        flash(
            _("Metric “%(name)s” created. The host app can now send %(key)s events.", name=m.name, key=m.key), "success"
        )
        return redirect(url_for("admin.metrics"))
    return render_template("admin/metric_form.html", form=form, metric=None), 400 if form.is_submitted() else 200


@bp.route("/metrics/<int:metric_id>/edit", methods=["GET", "POST"])
def metric_edit(metric_id: int):
    metric = db.get_or_404(Metric, metric_id)
    form = MetricForm(obj=metric)
    if _save(form, metric) is not None:
        flash(_("Metric “%(name)s” saved.", name=metric.name), "success")
        return redirect(url_for("admin.metrics"))
    return render_template(
        "admin/metric_form.html", form=form, metric=metric, usage=metrics_svc.usage(metric.id)
    ), 400 if form.is_submitted() else 200


@bp.post("/metrics/<int:metric_id>/delete")
def metric_delete(metric_id: int):
    metric = db.get_or_404(Metric, metric_id)
    try:
        metrics_svc.delete(metric)
    except ConfigError as e:
        flash(str(e), "error")
        return redirect(url_for("admin.metric_edit", metric_id=metric.id))
    flash(_("Metric “%(name)s” deleted.", name=metric.name), "success")
    return redirect(url_for("admin.metrics"))
