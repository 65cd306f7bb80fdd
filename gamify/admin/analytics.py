"""Admin: analytics drawn as server-rendered inline SVG (templates/admin/_charts.html), no JS library."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms.validators import InputRequired, NumberRange

from .. import i18n
from ..database import replica_reads
from ..fields import Whole
from ..i18n import _, _l
from ..services import analytics as analytics_svc
from ..services import deliveries, notification_templates, reminders
from .base import bp


@bp.get("/analytics")
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def analytics():
    return render_template(
        "admin/analytics.html",
        control=ControlForm(formdata=None, control_ratio=reminders.get_settings().control_ratio),
        retention_days=analytics_svc.RETENTION_DAYS,
        delivery=deliveries.stats(),
        type_labels=notification_templates.TYPES,
        channel_labels=notification_templates.CHANNELS,
        **analytics_svc.charts(),
    )


class ControlForm(FlaskForm):
    control_ratio = Whole(
        _l("Control group (share of new players, %)"),
        validators=[InputRequired(), NumberRange(min=0, max=50)],
        description=_l(
            "New players are assigned when first seen, by a stable hash of their id; control players get no "
            "gamification pages and no e-mails, their events still count, and the API answers carry control: true "
            "so the host app can hide its own gamification. Existing players keep their group."
        ),
    )


@bp.post("/analytics/control")
def control_ratio():
    form = ControlForm()
    if form.validate_on_submit():
        reminders.update_settings(control_ratio=form.control_ratio.data)
        flash(_("Control group: %(pct)s of new players.", pct=i18n.pct(form.control_ratio.data)), "success")
    else:
        flash("; ".join(e for errs in form.errors.values() for e in errs), "error")
    return redirect(url_for("admin.analytics"))
