"""Admin: achievements (metric threshold, streak length, API-awarded, composite), status changes and
activation with backfill (inline or as an RQ job with a polled progress bar)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, ValidationError
from wtforms.validators import Optional as OptionalV

from ..extensions import db
from ..fields import Amount, Whole
from ..models import Achievement, AchievementCompletion, AchievementProgress, BackfillRun, Metric, PointsTrigger
from ..models.achievements import STATUSES
from ..services.achievements import player_count
from ..web import ui
from . import backfill
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
            **{
                m.id: f"{m.name} ({m.key})"
                for m in db.session.execute(db.select(Metric).order_by(Metric.name)).scalars()
            },
        }
        q = db.select(Achievement).where(Achievement.status != "archived").order_by(Achievement.name)
        self.prerequisite_ids.choices = {
            x.id: f"{x.badge} {x.name} ({x.status})"
            for x in db.session.execute(q).scalars()
            if achievement is None or x.id != achievement.id
        }

    def validate_key(self, field):
        q = db.select(Achievement.id).where(Achievement.key == field.data.strip())
        if self._achievement is not None:
            q = q.where(Achievement.id != self._achievement.id)
        if db.session.execute(q).first():
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
            elif self._achievement is not None and _creates_cycle(self._achievement.id, ids):
                self.prerequisite_ids.errors.append(
                    "These prerequisites lead back to this achievement (a cycle), so nobody could ever earn it."
                )
                ok = False
        return ok


def _creates_cycle(achievement_id: int, prereq_ids: list[int]) -> bool:
    graph = {
        a_id: list(p or [])
        for a_id, p in db.session.execute(db.select(Achievement.id, Achievement.prerequisite_ids)).all()
    }
    graph[achievement_id] = list(prereq_ids)
    seen, stack = set(), list(prereq_ids)
    while stack:
        node = stack.pop()
        if node == achievement_id:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(graph.get(node, []))
    return False


def _apply(form: AchievementForm, a: Achievement) -> None:
    a.name = form.name.data.strip()
    a.key = form.key.data.strip()
    a.description = (form.description.data or "").strip()
    a.badge = form.badge.data.strip()
    a.hidden = bool(form.hidden.data)
    a.trigger = form.trigger.data
    a.metric_id = form.metric_id.data if a.trigger == "metric" else None
    a.threshold = float(form.threshold.data) if a.trigger == "metric" and form.threshold.data is not None else None
    a.streak_length = form.streak_length.data if a.trigger == "streak" else None
    a.prerequisite_ids = list(form.prerequisite_ids.data or []) if a.trigger == "composite" else []
    a.attribute_filters = form.attribute_filters.parsed


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
    run = backfill.active_run(a.id)
    if run is not None:
        flash("A backfill for this achievement is already running.", "info")
        return run
    try:
        run = backfill.start(a, current_user.id)
    except RuntimeError as e:
        flash(str(e), "error")
        return None
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
    q = db.select(Achievement).order_by(Achievement.status != "active", Achievement.name)
    if status in STATUSES:
        q = q.where(Achievement.status == status)
    items = list(db.session.execute(q).scalars())
    names = dict(db.session.execute(db.select(Achievement.id, Achievement.name)).all())
    counts = dict(
        db.session.execute(db.select(Achievement.status, func.count(Achievement.id)).group_by(Achievement.status)).all()
    )
    running = {
        r.achievement_id
        for r in db.session.execute(
            db.select(BackfillRun).where(BackfillRun.status.in_(("queued", "running")))
        ).scalars()
    }
    return render_template(
        "admin/achievements.html",
        items=items,
        names=names,
        status=status,
        counts=counts,
        statuses=STATUSES,
        describe=describe,
        describe_filters=describe_filters,
        running=running,
    )


@bp.route("/achievements/new", methods=["GET", "POST"])
def achievement_new():
    form = AchievementForm()
    if form.validate_on_submit():
        a = Achievement(status="inactive", completion_count=0, rarity_pct=0.0)
        _apply(form, a)
        db.session.add(a)
        db.session.commit()
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
        _apply(form, a)
        db.session.commit()
        note = (
            " Players who now qualify get it when they next report progress (or activate again to backfill)."
            if a.status == "active"
            else ""
        )
        flash(f"“{a.name}” saved.{note}", "success")
        return redirect(url_for("admin.achievement_edit", achievement_id=a.id))
    names = dict(db.session.execute(db.select(Achievement.id, Achievement.name)).all())
    run = backfill.latest_run(a.id)
    triggers = db.session.execute(
        db.select(func.count(PointsTrigger.id)).where(PointsTrigger.achievement_id == a.id)
    ).scalar_one()
    return render_template(
        "admin/achievement_form.html",
        form=form,
        a=a,
        run=run,
        names=names,
        describe=describe,
        status_labels=STATUS_LABELS,
        triggers=triggers,
        players=_player_count(),
    ), 400 if form.errors else 200


def _player_count() -> int:

    return player_count()


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
    if backfill.active_run(a.id) is not None:
        flash("Wait for the running backfill to finish first.", "error")
        return redirect(url_for("admin.achievement_edit", achievement_id=a.id))
    a.status = status
    db.session.commit()
    flash(f"“{a.name}” is now {STATUS_LABELS[status].lower()}.", "success")
    return redirect(url_for("admin.achievement_edit", achievement_id=a.id))


@bp.post("/achievements/<int:achievement_id>/delete")
def achievement_delete(achievement_id: int):
    a = db.get_or_404(Achievement, achievement_id)
    holders = db.session.execute(
        db.select(func.count(AchievementCompletion.id)).where(AchievementCompletion.achievement_id == a.id)
    ).scalar_one()
    dependants = [
        x.name for x in db.session.execute(db.select(Achievement)).scalars() if a.id in (x.prerequisite_ids or [])
    ]
    triggers = db.session.execute(
        db.select(func.count(PointsTrigger.id)).where(PointsTrigger.achievement_id == a.id)
    ).scalar_one()
    runs = db.session.execute(
        db.select(func.count(BackfillRun.id)).where(BackfillRun.achievement_id == a.id)
    ).scalar_one()
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
    if runs:
        db.session.execute(db.delete(BackfillRun).where(BackfillRun.achievement_id == a.id))

    db.session.execute(db.delete(AchievementProgress).where(AchievementProgress.achievement_id == a.id))
    db.session.delete(a)
    db.session.commit()
    flash(f"“{a.name}” deleted.", "success")
    return redirect(url_for("admin.achievements"))


@bp.get("/backfills/<int:run_id>")
def backfill_status(run_id: int):
    run = db.get_or_404(BackfillRun, run_id)
    if not ui.is_htmx():
        return redirect(url_for("admin.achievement_edit", achievement_id=run.achievement_id))
    return render_template("admin/_backfill.html", run=run, a=run.achievement, poll=True)
