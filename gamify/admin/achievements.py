"""Admin: achievements (metric threshold, streak length, API-awarded, composite), status changes and
activation with backfill (inline or as an RQ job with a polled progress bar)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, ValidationError
from wtforms.validators import Optional as OptionalV

from .. import jobs, queue
from ..extensions import db
from ..fields import Amount, Whole
from ..i18n import _, _l, ngettext
from ..models import Achievement, BackfillRun
from ..models.achievements import STATUSES
from ..services import achievements as achievements_svc
from ..services import achievements_config
from ..services import backfill as backfill_svc
from ..services import metrics as metrics_svc
from ..web import ui
from .base import bp
from .forms import FiltersField, describe_filters, format_filters, key_validator

TRIGGER_CHOICES = [
    ("metric", _l("Metric reaches a threshold")),
    ("streak", _l("Streak reaches a length")),
    ("api", _l("Awarded by the host app (API)")),
    ("composite", _l("Composite: holds other achievements")),
]
STATUS_LABELS = {
    "inactive": _l("Draft (inactive)"),
    "active": _l("Active"),
    "locked": _l("Locked (visible, not earnable)"),
    "archived": _l("Archived"),
}


def _int_or_none(v):
    if v in (None, "", "None"):
        return None
    return int(v)


class AchievementForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    key = StringField(
        _l("Key"),
        validators=[DataRequired(), Length(max=64), key_validator],
        description=_l("Stable id for the API, e.g. lessons_100."),
    )
    description = TextAreaField(
        _l("Description"),
        validators=[Length(max=2000)],
        render_kw={"rows": 2, "style": "font-family:inherit"},
        description=_l("Shown to players: what to do to earn it."),
    )
    badge = StringField(
        _l("Badge"), default="🏅", validators=[DataRequired(), Length(max=64)], description=_l("An emoji works well.")
    )
    trigger = SelectField(_l("Earned when"), choices=[SelectChoice(k, v) for k, v in TRIGGER_CHOICES])
    metric_id = SelectField(_l("Metric"), coerce=_int_or_none)
    threshold = Amount(
        _l("Threshold"),
        places=None,
        validators=[OptionalV(), NumberRange(min=0)],
        description=_l("Lifetime total of the metric (only matching events count when filtered)."),
    )
    streak_length = Whole(_l("Streak length"), validators=[OptionalV(), NumberRange(min=1, max=100000)])
    prerequisite_ids = SelectMultipleField(
        _l("Prerequisites"),
        coerce=int,
        description=_l("Earned automatically once a player holds all of these. Ctrl/⌘-click to pick several."),
    )
    attribute_filters = FiltersField()
    hidden = BooleanField(
        _l("Hidden until earned"),
        description=_l(
            "Players see “???” and no description until they earn it (a surprise); it still counts in rarity."
        ),
    )

    def __init__(self, *a, achievement: Achievement | None = None, **kw):
        super().__init__(*a, **kw)
        self._achievement = achievement
        self.metric_id.choices = {
            None: "— choose a metric —",
            **{m.id: f"{m.name} ({m.key})" for m in metrics_svc.list_by_name()},
        }
        self.prerequisite_ids.choices = {
            x.id: f"{x.badge} {x.name} ({x.status})"
            for x in achievements_config.list_by_name(include_archived=False)
            if achievement is None or x.id != achievement.id
        }

    def validate_key(self, field):
        if achievements_config.key_taken(
            field.data.strip(), except_id=self._achievement.id if self._achievement else None
        ):
            raise ValidationError(_("Another achievement already uses this key."))

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        t = self.trigger.data
        if t == "metric":
            if self.metric_id.data is None:
                self.metric_id.errors.append(_("Choose the metric to count."))
                ok = False
            if self.threshold.data is None:
                self.threshold.errors.append(_("Enter the total to reach, e.g. 100."))
                ok = False
            elif self.threshold.data <= 0:
                self.threshold.errors.append(_("Must be more than 0."))
                ok = False
        elif t == "streak":
            if not self.streak_length.data:
                self.streak_length.errors.append(_("Enter the streak length to reach, e.g. 7."))
                ok = False
        elif t == "composite":
            ids = self.prerequisite_ids.data or []
            if not ids:
                self.prerequisite_ids.errors.append(_("Pick at least one prerequisite achievement."))
                ok = False
            elif self._achievement is not None and achievements_config.creates_cycle(self._achievement.id, ids):
                self.prerequisite_ids.errors.append(
                    _("These prerequisites lead back to this achievement (a cycle), so nobody could ever earn it.")
                )
                ok = False
        return ok


def _fields(form: AchievementForm) -> dict:
    return {
        "name": form.name.data.strip(),
        "key": form.key.data.strip(),
        "description": (form.description.data or "").strip(),
        "badge": form.badge.data.strip(),
        "hidden": bool(form.hidden.data),
        "trigger": form.trigger.data,
        "metric_id": form.metric_id.data,
        "threshold": form.threshold.data,
        "streak_length": form.streak_length.data,
        "prerequisite_ids": list(form.prerequisite_ids.data or []),
        "attribute_filters": form.attribute_filters.parsed,
    }


def describe(a: Achievement, names: dict | None = None) -> str:
    if a.trigger == "metric":
        unit = a.metric.unit if a.metric else ""
        return f"{a.metric.name if a.metric else '?'} ≥ {ui.num(a.threshold)}{(' ' + unit) if unit else ''}"  # no words
    if a.trigger == "streak":
        return _("Streak ≥ %(n)s", n=ui.num(a.streak_length))
    if a.trigger == "composite":
        names = names or {}
        return _("All of: %(names)s", names=", ".join(names.get(i, f"#{i}") for i in (a.prerequisite_ids or [])))
    return _("Awarded through the API")


def _start_activation(a: Achievement):
    run = backfill_svc.active_run(a.id)
    if run is not None:
        flash(_("A backfill for this achievement is already running."), "info")
        return run
    if backfill_svc.should_run_inline():
        run = backfill_svc.run_inline(a, current_user.id)
    else:
        run_id = backfill_svc.queue_run(a, current_user.id).id
        # The worker loads the run by its id in a session of its own: it must be committed before the job exists.
        db.session.commit()
        try:
            job = queue.enqueue(jobs.run_backfill, run_id, queue="default")
        except Exception as e:  # Redis down: say so, keep nothing half-done
            backfill_svc.fail_if_queued(run_id, f"could not reach the job queue: {e}")
            flash(
                _("The job queue is not reachable (%(error)s). Nothing was changed; try again.", error=str(e)), "error"
            )
            return None
        run = backfill_svc.record_job(run_id, str(job.id) if job is not None else None)
    if run.mode == "inline":
        if run.status == "done":
            flash(
                ngettext(
                    "“%(name)s” is active. %(num)s player already qualified and received it silently.",
                    "“%(name)s” is active. %(num)s players already qualified and received it silently.",
                    run.added,
                    name=a.name,
                ),
                "success",
            )
    elif run.status == "done":
        flash(
            ngettext(
                "“%(name)s” is active. Backfill finished: %(num)s completion.",
                "“%(name)s” is active. Backfill finished: %(num)s completions.",
                run.added,
                name=a.name,
            ),
            "success",
        )
    elif run.status == "failed":
        flash(_("Backfill failed: %(error)s", error=run.error), "error")
    else:
        flash(
            _("Activating “%(name)s”: the backfill runs in the background; progress is shown below.", name=a.name),
            "info",
        )
    return run


@bp.get("/achievements")
def achievements():
    status = request.args.get("status") or "all"
    return render_template(
        "admin/achievements.html",
        **achievements_config.listing(status)._asdict(),
        status=status,
        statuses=STATUSES,
        describe=describe,
        describe_filters=describe_filters,
    )


@bp.route("/achievements/new", methods=["GET", "POST"])
def achievement_new():
    form = AchievementForm()
    if form.validate_on_submit():
        a = achievements_config.save(None, **_fields(form))
        if request.form.get("activate"):
            _start_activation(a)
        else:
            flash(_("“%(name)s” saved as a draft. Activate it when you are ready.", name=a.name), "success")
        return redirect(url_for("admin.achievement_edit", achievement_id=a.id))
    return render_template("admin/achievement_form.html", form=form, a=None), 400 if form.errors else 200


@bp.route("/achievements/<int:achievement_id>", methods=["GET", "POST"])
def achievement_edit(achievement_id: int):
    a = db.get_or_404(Achievement, achievement_id)
    if request.method == "GET":
        form = AchievementForm(obj=a, achievement=a)
        form.attribute_filters.data = format_filters(a.attribute_filters)
        form.prerequisite_ids.data = list(a.prerequisite_ids or [])
    else:
        form = AchievementForm(achievement=a)
    if form.validate_on_submit():
        achievements_config.save(a, **_fields(form))
        if a.status == "active":
            message = _(
                "“%(name)s” saved. Players who now qualify get it when they next report progress (or activate "
                "again to backfill).",
                name=a.name,
            )
        else:
            message = _("“%(name)s” saved.", name=a.name)
        flash(message, "success")
        return redirect(url_for("admin.achievement_edit", achievement_id=a.id))
    return render_template(
        "admin/achievement_form.html",
        form=form,
        a=a,
        run=backfill_svc.latest_run(a.id),
        names=achievements_config.names(),
        describe=describe,
        status_labels=STATUS_LABELS,
        triggers=achievements_config.points_trigger_count(a.id),
        players=achievements_svc.player_count(),
    ), 400 if form.errors else 200


@bp.post("/achievements/<int:achievement_id>/activate")
def achievement_activate(achievement_id: int):
    a = db.get_or_404(Achievement, achievement_id)
    _start_activation(a)
    return redirect(url_for("admin.achievement_edit", achievement_id=a.id))


@bp.post("/achievements/<int:achievement_id>/status")
def achievement_status(achievement_id: int):
    a = db.get_or_404(Achievement, achievement_id)
    status = request.form.get("status", "")
    if status not in ("inactive", "locked", "archived"):
        flash(_("Use Activate to make an achievement earnable (it backfills players who already qualify)."), "error")
        return redirect(url_for("admin.achievement_edit", achievement_id=a.id))
    if backfill_svc.active_run(a.id) is not None:
        flash(_("Wait for the running backfill to finish first."), "error")
        return redirect(url_for("admin.achievement_edit", achievement_id=a.id))
    achievements_config.set_status(a, status)
    flash(_("“%(name)s” is now %(status)s.", name=a.name, status=str(STATUS_LABELS[status]).lower()), "success")
    return redirect(url_for("admin.achievement_edit", achievement_id=a.id))


@bp.post("/achievements/<int:achievement_id>/delete")
def achievement_delete(achievement_id: int):
    a = db.get_or_404(Achievement, achievement_id)
    holders, dependants, triggers = achievements_config.delete_blockers(a)
    reasons = []
    if holders:
        reasons.append(
            ngettext(
                "%(num)s player holds it (archive it instead)", "%(num)s players hold it (archive it instead)", holders
            )
        )
    if dependants:
        reasons.append(_("it is a prerequisite of %(names)s", names=", ".join(dependants)))
    if triggers:
        reasons.append(_("points triggers use it"))
    if reasons:
        flash(_("“%(name)s” cannot be deleted: %(reasons)s.", name=a.name, reasons="; ".join(reasons)), "error")
        return redirect(url_for("admin.achievement_edit", achievement_id=a.id))
    achievements_config.delete(a)
    flash(_("“%(name)s” deleted.", name=a.name), "success")
    return redirect(url_for("admin.achievements"))


@bp.get("/backfills/<int:run_id>")
def backfill_status(run_id: int):
    run = db.get_or_404(BackfillRun, run_id)
    if not ui.is_htmx():
        return redirect(url_for("admin.achievement_edit", achievement_id=run.achievement_id))
    return render_template("admin/_backfill.html", run=run, a=run.achievement, poll=True)
