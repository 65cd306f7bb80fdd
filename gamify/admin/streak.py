"""Admin: the product's streak (frequency, ALL/ANY mode, requirements per metric, freezes)."""

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField
from wtforms.validators import DataRequired, InputRequired, NumberRange
from wtforms.validators import Optional as OptionalV

from .. import i18n
from ..extensions import db
from ..fields import Amount, Whole
from ..i18n import _, _l
from ..models import StreakRequirement
from ..services import metrics as metrics_svc
from ..services import streaks
from .base import bp

FREQUENCIES = [
    SelectChoice("daily", _l("Daily")),
    SelectChoice("weekly", _l("Weekly (Monday–Sunday)")),
    SelectChoice("monthly", _l("Monthly")),
]
MODES = [SelectChoice("any", _l("ANY requirement is enough")), SelectChoice("all", _l("ALL requirements must be met"))]


# admin.home reads the streak's settings through this name.
current_config = streaks.get_config


class StreakConfigForm(FlaskForm):
    enabled = BooleanField(_l("Streaks are on"), description=_l("Switching off hides streaks; history is kept."))
    frequency = SelectField(
        _l("Frequency"),
        choices=FREQUENCIES,
        description=_l(
            "How often players must meet the requirements. Changing it later "
            "re-reads everyone's history in the new periods."
        ),
    )
    mode = SelectField(_l("Requirements"), choices=MODES)
    freeze_initial = Whole(
        _l("Freezes at start"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=100)],
        description=_l("Given to every new player."),
    )
    freeze_every = Whole(
        _l("Earn a freeze every … periods"),
        validators=[OptionalV(), NumberRange(min=1, max=1000)],
        description=_l("Empty: freezes are never earned by keeping the streak."),
    )
    freeze_max = Whole(
        _l("Most freezes a player can hold"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=100)],
        description=_l("0 = no limit for grants, but nothing is earned automatically."),
    )

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if ok and self.freeze_every.data and not self.freeze_max.data:
            self.freeze_max.errors.append(_("Set a maximum above 0, or players can never earn a freeze."))
            ok = False
        if ok and self.freeze_max.data and self.freeze_initial.data > self.freeze_max.data:
            self.freeze_initial.errors.append(_("Cannot be more than the maximum."))
            ok = False
        return ok


class RequirementForm(FlaskForm):
    metric_id = SelectField(_l("Metric"), coerce=int, validators=[DataRequired()])
    threshold = Amount(
        _l("At least"),
        places=None,
        validators=[InputRequired(), NumberRange(min=0.0001)],
        default=1,
        description=_l("Sum of the metric within one period."),
    )

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.metric_id.choices = {m.id: f"{m.name} ({m.key})" for m in metrics_svc.list_by_name()}


class ThresholdForm(FlaskForm):
    threshold = Amount(_l("At least"), places=None, validators=[InputRequired(), NumberRange(min=0.0001)])


def _page(form: StreakConfigForm, req_form: RequirementForm, config, status=200):
    return render_template(
        "admin/streak.html",
        form=form,
        req_form=req_form,
        config=config,
        threshold_form=ThresholdForm(),
        active_streaks=streaks.active_streak_count(),
    ), status


@bp.route("/streak", methods=["GET", "POST"])
def streak_config():
    config = streaks.get_config()
    form = StreakConfigForm(obj=config) if config else StreakConfigForm()
    if config is None and not form.is_submitted():
        form.enabled.data = True
    if form.validate_on_submit():
        changed_frequency = streaks.save_config(
            config,
            enabled=bool(form.enabled.data),
            frequency=form.frequency.data,
            mode=form.mode.data,
            freeze_initial=form.freeze_initial.data or 0,
            freeze_every=form.freeze_every.data or None,
            freeze_max=form.freeze_max.data or 0,
        )
        flash(
            _("Streak settings saved. The frequency changed: current streaks now count in the new periods.")
            if changed_frequency
            else _("Streak settings saved."),
            "success",
        )
        return redirect(url_for("admin.streak_config"))
    return _page(form, RequirementForm(prefix="req"), config, 400 if form.errors else 200)


@bp.post("/streak/requirements")
def streak_requirement_add():
    req_form = RequirementForm(prefix="req")
    if req_form.validate_on_submit():
        if streaks.add_requirement(req_form.metric_id.data, float(req_form.threshold.data)) is None:
            req_form.metric_id.errors.append(_("This metric is already a requirement; change its threshold instead."))
        else:
            flash(_("Requirement added."), "success")
            return redirect(url_for("admin.streak_config"))
    config = streaks.get_config()
    form = StreakConfigForm(obj=config, formdata=None) if config else StreakConfigForm(formdata=None)
    return _page(form, req_form, config, 400)


@bp.post("/streak/requirements/<int:req_id>")
def streak_requirement_update(req_id: int):
    req = db.get_or_404(StreakRequirement, req_id)
    form = ThresholdForm()
    if form.validate_on_submit():
        streaks.set_requirement_threshold(req, float(form.threshold.data))
        flash(_("%(name)s: threshold set to %(n)s.", name=req.metric.name, n=i18n.num(req.threshold, 3)), "success")
    else:
        flash(_("Threshold must be a number above 0."), "error")
    return redirect(url_for("admin.streak_config"))


@bp.post("/streak/requirements/<int:req_id>/delete")
def streak_requirement_delete(req_id: int):
    req = db.get_or_404(StreakRequirement, req_id)
    name = req.metric.name
    streaks.delete_requirement(req)
    flash(_("%(name)s is no longer a streak requirement.", name=name), "success")
    return redirect(url_for("admin.streak_config"))
