"""Admin: points systems with their levels, triggers and boosts."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.validators import Optional as OptionalV

from ..engine import calendar as cal
from ..extensions import db
from ..fields import Amount, LocalDateTime, Whole
from ..i18n import _, _l, ngettext
from ..models import PointsBoost, PointsLevel, PointsSystem, PointsTrigger
from ..models._common import utcnow
from ..services import achievements_config, points_config
from ..services import metrics as metrics_svc
from ..services.config_rules import ConfigError
from ..web import ui
from .base import bp
from .forms import FiltersField, describe_filters, format_filters, key_validator, show_refusal

TRIGGER_TYPES = [
    ("metric", _l("Metric progress (points per N units)")),
    ("streak", _l("Streak reaches a length")),
    ("streak_day", _l("Every day of a streak (each extension)")),
    ("achievement", _l("Achievement unlocked")),
    ("time_interval", _l("Every N hours (scheduled)")),
    ("local_midnight", _l("Every day at the player's local midnight")),
    ("signup", _l("Sign-up bonus")),
]
ROUNDING_CHOICES = [("floor", _l("Round down")), ("nearest", _l("Round to nearest")), ("ceil", _l("Round up"))]


def _int_or_none(v):
    return None if v in (None, "", "None") else int(v)


# ------------------------------------------------------------------------------------------ forms


# The forms read and type the input; the rules (key form and uniqueness, ranges, what each trigger type needs,
# a boost's end after its start) are points_config's, shown on the field they name.


class SystemForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    key = StringField(
        _l("Key"),
        validators=[DataRequired(), Length(max=64), key_validator],
        description=_l("Used by the API, e.g. xp or gems."),
    )
    badge = StringField(_l("Badge"), default="⭐", validators=[DataRequired(), Length(max=64)])
    daily_cap = Whole(
        _l("Daily cap"),
        validators=[OptionalV()],
        description=_l("Most a player can earn from triggers per local day. Empty = unlimited."),
    )
    max_balance = Whole(
        _l("Maximum balance"),
        validators=[OptionalV()],
        description=_l("For hearts-like systems. Empty = unlimited."),
    )


class LevelForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=64), key_validator])
    threshold = Whole(
        _l("Reached at"),
        validators=[InputRequired()],
        description=_l("Balance at which a player reaches this level."),
    )
    badge = StringField(_l("Badge"), validators=[Length(max=64)])


class TriggerForm(FlaskForm):
    type = SelectField(_l("Fires on"), choices=[SelectChoice(k, v) for k, v in TRIGGER_TYPES])
    points = Whole(
        _l("Points"),
        validators=[InputRequired()],
        description=_l("Negative values take points away."),
    )
    metric_id = SelectField(_l("Metric"), coerce=_int_or_none)
    per_units = Amount(
        _l("Per … units"),
        places=None,
        default=1,
        validators=[OptionalV()],
        description=_l("e.g. 10 points per 1 lesson, or 1 point per 5 minutes."),
    )
    streak_length = Whole(_l("Streak length"), validators=[OptionalV()])
    times_length = BooleanField(
        _l("Multiply by the streak's length"), description=_l("Day 3 of a streak gives 3 × the points.")
    )
    achievement_id = SelectField(_l("Achievement"), coerce=_int_or_none)
    interval_hours = Whole(_l("Every … hours"), validators=[OptionalV()])
    attribute_filters = FiltersField()
    active = BooleanField(_l("Active"), default=True)

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.metric_id.choices = {
            None: "— choose a metric —",
            **{m.id: f"{m.name} ({m.key})" for m in metrics_svc.list_by_name()},
        }
        self.achievement_id.choices = {
            None: "— choose an achievement —",
            **{x.id: f"{x.badge} {x.name}" for x in achievements_config.list_by_name()},
        }


class BoostForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(), Length(max=120)], description=_l("e.g. “Double XP weekend”.")
    )
    multiplier = Amount(
        _l("Multiplier"),
        places=None,
        validators=[InputRequired()],
        description=_l("2 doubles, 1.5 adds half. Several live boosts multiply."),
    )
    rounding = SelectField(_l("Rounding"), choices=[SelectChoice(k, v) for k, v in ROUNDING_CHOICES])
    starts_at = LocalDateTime("Starts", format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    ends_at = LocalDateTime("Ends", format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    attribute_filters = FiltersField()


# ------------------------------------------------------------------------------------------ helpers


def _admin_tz() -> str:
    return current_user.timezone or "UTC"


def _to_utc(naive: datetime) -> datetime:
    return naive.replace(tzinfo=cal.zone(_admin_tz())).astimezone(timezone.utc)


def _to_local_naive(moment: datetime) -> datetime:
    return moment.astimezone(cal.zone(_admin_tz())).replace(tzinfo=None)


def _saved(form, save):
    """`save()` once the form validates: its result, or None with the service's refusal (ConfigError)
    shown on the field it names."""
    if not form.validate_on_submit():
        return None
    try:
        return save()
    except ConfigError as e:
        show_refusal(form, e)
        return None


def _status(form) -> int:
    return 400 if form.is_submitted() else 200


def _system_or_404(system_id: int) -> PointsSystem:
    return db.get_or_404(PointsSystem, system_id)


def _system_fields(form: SystemForm) -> dict:
    return {
        "key": form.key.data,
        "name": form.name.data,
        "badge": form.badge.data,
        "daily_cap": form.daily_cap.data,
        "max_balance": form.max_balance.data,
    }


def describe_trigger(t: PointsTrigger, names: dict) -> str:
    if t.type == "metric":
        unit = t.metric.unit if t.metric else _("units")
        per = ui.num(t.per_units or 1)
        return _("per %(per)s %(unit)s of %(metric)s", per=per, unit=unit, metric=t.metric.name if t.metric else "?")
    if t.type == "streak":
        return _("when the streak reaches %(n)s", n=ui.num(t.streak_length))
    if t.type == "streak_day":
        return _("on every day of a streak, times its length") if t.times_length else _("on every day of a streak")
    if t.type == "achievement":
        return _("on unlocking %(name)s", name=names.get(t.achievement_id, "?"))
    if t.type == "time_interval":
        return _("every %(n)s h", n=ui.num(t.interval_hours))
    if t.type == "local_midnight":
        return _("every day at the player's local midnight")
    return _("on sign-up")


# ------------------------------------------------------------------------------------------ systems


@bp.get("/points")
def points_systems():
    return render_template("admin/points_systems.html", **points_config.systems_overview(utcnow())._asdict())


@bp.route("/points/new", methods=["GET", "POST"])
def points_system_new():
    form = SystemForm()
    s = _saved(form, lambda: points_config.save_system(None, **_system_fields(form)))
    if s is not None:
        flash(_("“%(name)s” created. Add levels and triggers next.", name=s.name), "success")
        return redirect(url_for("admin.points_system", system_id=s.id))
    return render_template("admin/points_system_form.html", form=form, system=None), _status(form)


@bp.route("/points/<int:system_id>", methods=["GET", "POST"])
def points_system(system_id: int):
    system = _system_or_404(system_id)
    form = SystemForm(obj=system) if request.method == "GET" else SystemForm()
    if _saved(form, lambda: points_config.save_system(system, **_system_fields(form))) is not None:
        flash(_("“%(name)s” saved.", name=system.name), "success")
        return redirect(url_for("admin.points_system", system_id=system.id))
    tab = request.args.get("tab", "levels")
    return render_template(
        "admin/points_system.html",
        system=system,
        form=form,
        tab=tab,
        **points_config.system_detail(system)._asdict(),
        describe_trigger=describe_trigger,
        describe_filters=describe_filters,
        now=utcnow(),
        admin_tz=_admin_tz(),
    ), _status(form)


@bp.post("/points/<int:system_id>/delete")
def points_system_delete(system_id: int):
    system = _system_or_404(system_id)
    try:
        points_config.delete_system(system)
    except ConfigError as e:
        flash(str(e), "error")
        return redirect(url_for("admin.points_system", system_id=system.id))
    flash(_("“%(name)s” deleted.", name=system.name), "success")
    return redirect(url_for("admin.points_systems"))


# ------------------------------------------------------------------------------------------ levels


@bp.route("/points/<int:system_id>/levels/new", methods=["GET", "POST"])
@bp.route("/points/<int:system_id>/levels/<int:level_id>", methods=["GET", "POST"])
def points_level(system_id: int, level_id: int | None = None):
    system = _system_or_404(system_id)
    level = db.get_or_404(PointsLevel, level_id) if level_id else None
    if level is not None and level.system_id != system.id:
        return redirect(url_for("admin.points_system", system_id=system.id))
    form = LevelForm(obj=level) if request.method == "GET" else LevelForm()
    saved = _saved(
        form,
        lambda: points_config.save_level(
            system,
            level,
            key=form.key.data,
            name=form.name.data,
            threshold=form.threshold.data,
            badge=form.badge.data or "",
        ),
    )
    if saved is not None:
        level, moved = saved
        flash(
            ngettext(
                "Level “%(name)s” saved. %(num)s player moved to their new level.",
                "Level “%(name)s” saved. %(num)s players moved to their new level.",
                moved,
                name=level.name,
            )
            if moved
            else _("Level “%(name)s” saved.", name=level.name),
            "success",
        )
        return redirect(url_for("admin.points_system", system_id=system.id, tab="levels"))
    return render_template("admin/points_item_form.html", form=form, system=system, item=level, kind="level"), _status(
        form
    )


@bp.post("/points/<int:system_id>/levels/<int:level_id>/delete")
def points_level_delete(system_id: int, level_id: int):
    system = _system_or_404(system_id)
    level = db.get_or_404(PointsLevel, level_id)
    if level.system_id == system.id:
        moved = points_config.delete_level(system, level)
        flash(
            ngettext(
                "Level “%(name)s” deleted. %(num)s player moved to another level.",
                "Level “%(name)s” deleted. %(num)s players moved to another level.",
                moved,
                name=level.name,
            )
            if moved
            else _("Level “%(name)s” deleted.", name=level.name),
            "success",
        )
    return redirect(url_for("admin.points_system", system_id=system.id, tab="levels"))


# ------------------------------------------------------------------------------------------ triggers


@bp.route("/points/<int:system_id>/triggers/new", methods=["GET", "POST"])
@bp.route("/points/<int:system_id>/triggers/<int:trigger_id>", methods=["GET", "POST"])
def points_trigger(system_id: int, trigger_id: int | None = None):
    system = _system_or_404(system_id)
    trig = db.get_or_404(PointsTrigger, trigger_id) if trigger_id else None
    if trig is not None and trig.system_id != system.id:
        return redirect(url_for("admin.points_system", system_id=system.id, tab="triggers"))
    if request.method == "GET":
        form = TriggerForm(obj=trig)
        if trig is not None:
            form.attribute_filters.data = format_filters(trig.attribute_filters)
    else:
        form = TriggerForm()
    if _saved(
        form,
        lambda: points_config.save_trigger(
            system,
            trig,
            trigger_type=form.type.data,
            amount=form.points.data,
            active=bool(form.active.data),
            metric_id=form.metric_id.data,
            per_units=form.per_units.data,
            streak_length=form.streak_length.data,
            times_length=bool(form.times_length.data),
            achievement_id=form.achievement_id.data,
            interval_hours=form.interval_hours.data,
            attribute_filters=form.attribute_filters.parsed,
        ),
    ):
        flash(_("Trigger saved."), "success")
        return redirect(url_for("admin.points_system", system_id=system.id, tab="triggers"))
    return render_template("admin/points_item_form.html", form=form, system=system, item=trig, kind="trigger"), _status(
        form
    )


@bp.post("/points/<int:system_id>/triggers/<int:trigger_id>/toggle")
def points_trigger_toggle(system_id: int, trigger_id: int):
    trig = db.get_or_404(PointsTrigger, trigger_id)
    points_config.toggle_trigger(trig)
    flash(_("Trigger activated.") if trig.active else _("Trigger paused."), "success")
    return redirect(url_for("admin.points_system", system_id=system_id, tab="triggers"))


@bp.post("/points/<int:system_id>/triggers/<int:trigger_id>/delete")
def points_trigger_delete(system_id: int, trigger_id: int):
    trig = db.get_or_404(PointsTrigger, trigger_id)
    used = points_config.delete_trigger(trig)
    if used:
        flash(
            ngettext(
                "This trigger awarded points %(num)s time, so it was paused instead of deleted (the ledger keeps "
                "pointing at it).",
                "This trigger awarded points %(num)s times, so it was paused instead of deleted (the ledger keeps "
                "pointing at it).",
                used,
            ),
            "info",
        )
    else:
        flash(_("Trigger deleted."), "success")
    return redirect(url_for("admin.points_system", system_id=system_id, tab="triggers"))


# ------------------------------------------------------------------------------------------ boosts


@bp.route("/points/<int:system_id>/boosts/new", methods=["GET", "POST"])
@bp.route("/points/<int:system_id>/boosts/<int:boost_id>", methods=["GET", "POST"])
def points_boost(system_id: int, boost_id: int | None = None):
    system = _system_or_404(system_id)
    boost = db.get_or_404(PointsBoost, boost_id) if boost_id else None
    if boost is not None and boost.system_id != system.id:
        return redirect(url_for("admin.points_system", system_id=system.id, tab="boosts"))
    if request.method == "GET":
        form = BoostForm(obj=boost)
        if boost is not None:
            form.starts_at.data = _to_local_naive(boost.starts_at)
            form.ends_at.data = _to_local_naive(boost.ends_at)
            form.attribute_filters.data = format_filters(boost.attribute_filters)
    else:
        form = BoostForm()
    saved = _saved(
        form,
        lambda: points_config.save_boost(
            system,
            boost,
            name=form.name.data,
            multiplier=float(form.multiplier.data),
            rounding=form.rounding.data,
            starts_at=_to_utc(form.starts_at.data),
            ends_at=_to_utc(form.ends_at.data),
            attribute_filters=form.attribute_filters.parsed,
        ),
    )
    if saved is not None:
        boost = saved
        flash(_("Boost “%(name)s” saved.", name=boost.name), "success")
        return redirect(url_for("admin.points_system", system_id=system.id, tab="boosts"))
    return render_template(
        "admin/points_item_form.html", form=form, system=system, item=boost, kind="boost", admin_tz=_admin_tz()
    ), _status(form)


@bp.post("/points/<int:system_id>/boosts/<int:boost_id>/delete")
def points_boost_delete(system_id: int, boost_id: int):
    boost = db.get_or_404(PointsBoost, boost_id)
    points_config.delete_boost(boost)
    flash(
        _("Boost “%(name)s” deleted. Points already awarded keep their multiplier in the ledger.", name=boost.name),
        "success",
    )
    return redirect(url_for("admin.points_system", system_id=system_id, tab="boosts"))
