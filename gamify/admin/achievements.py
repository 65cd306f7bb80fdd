"""Admin: achievements (metric threshold, streak length, API-awarded, composite), status changes and
activation with backfill (inline or as an RQ job with a polled progress bar)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, ValidationError
from wtforms.validators import Optional as OptionalV

from .. import jobs, queue
from ..extensions import db
from ..fields import Amount, Whole
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
    ("metric", "Metric reaches a threshold"),
    ("streak", "Streak reaches a length"),
    ("api", "Awarded by the host app (API)"),
    ("composite", "Composite: holds other achievements"),
]
STATUS_LABELS = {
    "inactive": "Draft (inactive)",
    "active": "Active",
    "locked": "Locked (visible, not earnable)",
    "archived": "Archived",
}


def _int_or_none(v):
    if v in (None, "", "None"):
        return None
    return int(v)


class AchievementForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    key = StringField(
        "Key",
        validators=[DataRequired(), Length(max=64), key_validator],
        description="Stable id for the API, e.g. lessons_100.",
    )
    description = TextAreaField(
        "Description",
        validators=[Length(max=2000)],
        render_kw={"rows": 2, "style": "font-family:inherit"},
        description="Shown to players: what to do to earn it.",
    )
    badge = StringField(
        "Badge", default="🏅", validators=[DataRequired(), Length(max=64)], description="An emoji works well."
    )
    trigger = SelectField("Earned when", choices=dict(TRIGGER_CHOICES))
    metric_id = SelectField("Metric", coerce=_int_or_none)
    threshold = Amount(
        "Threshold",
        places=None,
        validators=[OptionalV(), NumberRange(min=0)],
        description="Lifetime total of the metric (only matching events count when filtered).",
    )
    streak_length = Whole("Streak length", validators=[OptionalV(), NumberRange(min=1, max=100000)])
    prerequisite_ids = SelectMultipleField(
        "Prerequisites",
        coerce=int,
        description="Earned automatically once a player holds all of these. Ctrl/⌘-click to pick several.",
    )
    attribute_filters = FiltersField()
    hidden = BooleanField(
        "Hidden until earned",
        description="Players see “???” and no description until they earn it (a surprise); it still counts in rarity.",
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
            raise ValidationError("Another achievement already uses this key.")

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        t = self.trigger.data
        if t == "metric":
            if self.metric_id.data is None:
                self.metric_id.errors.append("Choose the metric to count.")
                ok = False
            if self.threshold.data is None:
                self.threshold.errors.append("Enter the total to reach, e.g. 100.")
                ok = False
            elif self.threshold.data <= 0:
                self.threshold.errors.append("Must be more than 0.")
                ok = False
        elif t == "streak":
            if not self.streak_length.data:
                self.streak_length.errors.append("Enter the streak length to reach, e.g. 7.")
                ok = False
        elif t == "composite":
            ids = self.prerequisite_ids.data or []
            if not ids:
                self.prerequisite_ids.errors.append("Pick at least one prerequisite achievement.")
                ok = False
            elif self._achievement is not None and achievements_config.creates_cycle(self._achievement.id, ids):
                self.prerequisite_ids.errors.append(
                    "These prerequisites lead back to this achievement (a cycle), so nobody could ever earn it."
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
        return f"{a.metric.name if a.metric else '?'} ≥ {ui.num(a.threshold)}{(' ' + unit) if unit else ''}"
    if a.trigger == "streak":
        return f"Streak ≥ {a.streak_length}"
    if a.trigger == "composite":
        names = names or {}
        return "All of: " + ", ".join(names.get(i, f"#{i}") for i in (a.prerequisite_ids or []))
    return "Awarded through the API"


def _start_activation(a: Achievement):
    run = backfill_svc.active_run(a.id)
    if run is not None:
        flash("A backfill for this achievement is already running.", "info")
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
            flash(f"The job queue is not reachable ({e}). Nothing was changed; try again.", "error")
            return None
        run = backfill_svc.record_job(run_id, str(job.id) if job is not None else None)
    if run.mode == "inline":
        if run.status == "done":
            flash(
                f"“{a.name}” is active. {run.added} player{'s' if run.added != 1 else ''} already qualified "
                "and received it silently.",
                "success",
            )
    elif run.status == "done":
        flash(f"“{a.name}” is active. Backfill finished: {run.added} completions.", "success")
    elif run.status == "failed":
        flash(f"Backfill failed: {run.error}", "error")
    else:
        flash(f"Activating “{a.name}”: the backfill runs in the background; progress is shown below.", "info")
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
            flash(f"“{a.name}” saved as a draft. Activate it when you are ready.", "success")
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
        note = (
            " Players who now qualify get it when they next report progress (or activate again to backfill)."
            if a.status == "active"
            else ""
        )
        flash(f"“{a.name}” saved.{note}", "success")
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
        flash("Use Activate to make an achievement earnable (it backfills players who already qualify).", "error")
        return redirect(url_for("admin.achievement_edit", achievement_id=a.id))
    if backfill_svc.active_run(a.id) is not None:
        flash("Wait for the running backfill to finish first.", "error")
        return redirect(url_for("admin.achievement_edit", achievement_id=a.id))
    achievements_config.set_status(a, status)
    flash(f"“{a.name}” is now {STATUS_LABELS[status].lower()}.", "success")
    return redirect(url_for("admin.achievement_edit", achievement_id=a.id))


@bp.post("/achievements/<int:achievement_id>/delete")
def achievement_delete(achievement_id: int):
    a = db.get_or_404(Achievement, achievement_id)
    holders, dependants, triggers = achievements_config.delete_blockers(a)
    reasons = []
    if holders:
        reasons.append(f"{holders} player{'s' if holders != 1 else ''} hold it (archive it instead)")
    if dependants:
        reasons.append("it is a prerequisite of " + ", ".join(dependants))
    if triggers:
        reasons.append("points triggers use it")
    if reasons:
        flash(f"“{a.name}” cannot be deleted: {'; '.join(reasons)}.", "error")
        return redirect(url_for("admin.achievement_edit", achievement_id=a.id))
    achievements_config.delete(a)
    flash(f"“{a.name}” deleted.", "success")
    return redirect(url_for("admin.achievements"))


@bp.get("/backfills/<int:run_id>")
def backfill_status(run_id: int):
    run = db.get_or_404(BackfillRun, run_id)
    if not ui.is_htmx():
        return redirect(url_for("admin.achievement_edit", achievement_id=run.achievement_id))
    return render_template("admin/_backfill.html", run=run, a=run.achievement, poll=True)
