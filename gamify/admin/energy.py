"""Admin pages for energy: settings, the actions catalogue, the boosts catalogue, flagged players.
Every route is admin-only (`admin_blueprint`; players get 403); every form is a FlaskForm (CSRF)."""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from ..engine import energy as engine
from ..fields import Number, Whole
from ..i18n import _, _l
from ..services import energy, metrics, points, users
from .base import admin_blueprint

bp = admin_blueprint("admin_energy", __name__)

KEY = [
    DataRequired(),
    Length(max=64),
    Regexp(r"^[a-z0-9][a-z0-9_\-]*$", message="lowercase letters, digits, - and _ only"),
]


def _num(label, lo, hi=None, desc="", integer=True, required=True):
    cls = Whole if integer else Number
    return cls(
        label, validators=[InputRequired() if required else Optional(), NumberRange(min=lo, max=hi)], description=desc
    )


class SettingsForm(FlaskForm):
    free_max = _num(_l("Free: max energy"), 1, 100000)
    free_regen_per_hour = _num(_l("Free: regeneration per hour"), 0, 100000, integer=False)
    premium_max = _num(_l("Premium: max energy"), 1, 100000)
    premium_regen_per_hour = _num(_l("Premium: regeneration per hour"), 0, 100000, integer=False)
    tick_minutes = _num(_l("Tick (minutes)"), 1, 1440, _l("Energy comes back on these clock boundaries."))
    max_skill_bonus = _num(
        _l("Max-energy bonus from skills (cap)"),
        0,
        100000,
        _l(
            "Endurance: +3 per 10 levels (at most +15); meditation: +2 per 15 levels (at most +10); the sum up to this."
        ),
    )
    fatigue_gain_per_energy = _num(_l("Fatigue per energy spent"), 0, 100, integer=False)
    endurance_fatigue_reduction = _num(_l("Fatigue reduction at endurance 100 (0-1)"), 0, 1, integer=False)
    fatigue_recovery_per_hour = _num(_l("Fatigue recovery per hour"), 0, 100, integer=False)
    meditation_recovery_bonus = _num(_l("Extra recovery per hour at meditation 100"), 0, 100, integer=False)
    fatigue_regen_penalty = _num(_l("Regeneration lost at fatigue 100 (0-1)"), 0, 1, integer=False)
    max_skill_cost_reduction = _num(_l("Max total skill cost reduction (0-1)"), 0, 1, integer=False)
    daily_grant = _num(
        _l("Energy given at each player's local midnight"),
        0,
        100000,
        _l("Once a day, capped at max (0: off)."),
    )
    flag_spend_per_hour = _num(
        _l("Flag a player spending more than this in an hour"),
        1,
        1000000,
        _l("Anti-cheat (the energy spec's 200). Empty: only the other rule (more than max + regeneration + top-ups)."),
        required=False,
    )
    token_system_key = StringField(_l("Token points system key"), validators=[DataRequired(), Length(max=64)])
    energy_per_token = _num(_l("Energy per token"), 1, 100000)
    max_tokens_per_refill = _num(_l("Max tokens per refill"), 1, 100000)
    max_energy_per_refill = _num(_l("Max energy per refill"), 1, 100000)
    gifts_sent_per_day = _num(_l("Gifts a player may send per day"), 0, 1000)
    gifts_received_per_day = _num(_l("Gifts a player may receive per day"), 0, 1000)
    gift_min = _num(_l("Smallest gift"), 1, 100000)
    gift_max = _num(_l("Largest gift"), 1, 100000)
    gift_default = _num(_l("Default gift"), 1, 100000)
    gift_expiry_hours = _num(_l("Gift expiry (hours)"), 1, 24 * 365)
    refund_expired_gifts = BooleanField(_l("Refund the sender when a gift expires"))
    low_threshold = _num(_l("“Energy low” threshold"), 0, 100000)

    def validate_gift_max(self, field):
        if self.gift_min.data is not None and field.data is not None and field.data < self.gift_min.data:
            raise ValidationError(_("must be at least the smallest gift"))

    def validate_gift_default(self, field):
        lo, hi = self.gift_min.data, self.gift_max.data
        if None not in (lo, hi, field.data) and not lo <= field.data <= hi:
            raise ValidationError(_("must be between the smallest and the largest gift"))


def _parse_pairs(text: str, what: str, lo: float, hi: float) -> dict:
    """'easy=0.8, hard=1.3' -> {'easy': 0.8, 'hard': 1.3}."""
    out = {}
    for part in re.split(r"[,\n]", text or ""):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValidationError(_("write %(what)s as name=value, separated by commas", what=what))
        name, value = (p.strip() for p in part.split("=", 1))
        if not re.match(r"^[a-z][a-z0-9_]{0,63}$", name):
            raise ValidationError(_("invalid name “%(name)s” (lowercase letters, digits, _)", name=name))
        try:
            v = float(value)
        except ValueError:
            raise ValidationError(_("“%(value)s” is not a number", value=value)) from None
        if not lo <= v <= hi:
            raise ValidationError(
                _("%(name)s must be between %(lo)s and %(hi)s", name=name, lo=format(lo, "g"), hi=format(hi, "g"))
            )
        out[name] = v
    return out


def _pairs_text(d: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in (d or {}).items())


class ActionForm(FlaskForm):
    key = StringField(_l("Key"), validators=KEY)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    base_cost = _num(_l("Base energy cost"), 0, 100000, _l("0 = free"))
    difficulties = StringField(
        _l("Difficulty multipliers"),
        validators=[Optional(), Length(max=500)],
        description=_l("e.g. easy=0.8, medium=1.0, hard=1.3, expert=1.6 — empty: no choice"),
    )
    skill_reductions = StringField(
        _l("Skill cost reductions (% at level 100)"),
        validators=[Optional(), Length(max=500)],
        description=_l("e.g. gun_fighting=25 (the total is capped in the settings)"),
    )
    metric_key = SelectField(_l("Records metric"), validators=[DataRequired()])
    metric_value = Number(_l("Metric value"), default=1.0, validators=[InputRequired()])
    position = Whole(_l("Order"), default=0, validators=[Optional()])
    active = BooleanField(_l("Active"), default=True)

    def validate_difficulties(self, field):
        self.parsed_difficulties = _parse_pairs(field.data, _("difficulties"), 0.01, 100)

    def validate_skill_reductions(self, field):
        self.parsed_reductions = _parse_pairs(field.data, _("reductions"), 0, 100)


class BoostForm(FlaskForm):
    key = StringField(_l("Key"), validators=KEY)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    type = SelectField(_l("Type"), choices=[SelectChoice(t, t) for t in engine.BOOST_TYPES])
    effect_value = Number(
        _l("Effect value"),
        validators=[InputRequired(), NumberRange(min=0, max=100000)],
        description=_l(
            "regen_speed: regeneration up, in %; max_energy_increase: +max; "
            "consumption_reduction: cost down, in %; instant_refill: energy (0 = to max)"
        ),
    )
    duration_minutes = Whole(
        _l("Duration (minutes)"), validators=[Optional(), NumberRange(min=1)], description=_l("Empty = permanent")
    )
    token_cost = _num(_l("Token cost"), 0, 1000000)
    rarity = SelectField(_l("Rarity"), choices=[SelectChoice(r, r) for r in engine.RARITIES])
    active = BooleanField(_l("On sale"), default=True)


def _values(form: FlaskForm) -> dict:
    """The form's fields by name, without the CSRF token."""
    return {name: value for name, value in form.data.items() if name != "csrf_token"}


class AdjustForm(FlaskForm):
    player = StringField(_l("Player (email or external id)"), validators=[DataRequired(), Length(max=255)])
    amount = Whole(_l("Energy (+/-)"), validators=[InputRequired()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])


# ------------------------------------------------------------------------------------------ settings


@bp.route("/admin/energy", methods=["GET", "POST"])
def settings():
    s = energy.get_settings()
    form = SettingsForm(obj=s)
    if form.validate_on_submit():
        energy.update_settings(**_values(form))
        flash(_("Energy settings saved."), "success")
        return redirect(url_for("admin_energy.settings"))
    code = 400 if form.errors else 200
    html = render_template(
        "admin/energy/settings.html",
        form=form,
        flagged=len(energy.open_reviews()),
        system=points.system_by_key(s.token_system_key),
    )
    return html, code


# ------------------------------------------------------------------------------------------ actions


def _metric_choices():
    return [SelectChoice(m.key, f"{m.name} ({m.key})") for m in metrics.list_by_name()]


@bp.get("/admin/actions")
def actions():
    return render_template("admin/energy/actions.html", actions=energy.list_actions(active_only=False))


@bp.route("/admin/actions/new", methods=["GET", "POST"], defaults={"action_id": None})
@bp.route("/admin/actions/<int:action_id>", methods=["GET", "POST"])
def action_form(action_id):
    action = (energy.find_action(action_id) or abort(404)) if action_id else None
    form = ActionForm(obj=action)
    form.metric_key.choices = _metric_choices()
    if request.method == "GET":
        if action is not None:
            form.difficulties.data = _pairs_text(action.difficulties)
            form.skill_reductions.data = _pairs_text(action.skill_reductions)
        else:
            form.difficulties.data = _pairs_text(engine.DIFFICULTIES)
    if form.validate_on_submit():
        try:
            action = energy.save_action(
                action,
                key=form.key.data,
                name=form.name.data,
                description=form.description.data,
                base_cost=form.base_cost.data,
                difficulties=getattr(form, "parsed_difficulties", {}),
                skill_reductions=getattr(form, "parsed_reductions", {}),
                metric_key=form.metric_key.data,
                metric_value=form.metric_value.data,
                position=form.position.data or 0,
                active=form.active.data,
            )
        except energy.EnergyError as e:
            getattr(form, e.field).errors.append(str(e))
        else:
            flash(_("Action “%(name)s” saved.", name=action.name), "success")
            return redirect(url_for("admin_energy.actions"))
    if not form.metric_key.choices:
        flash(_("Create a metric first: every action records a metric event."), "info")
    return render_template("admin/energy/action_form.html", form=form, action=action), (400 if form.errors else 200)


@bp.post("/admin/actions/<int:action_id>/delete")
def delete_action(action_id: int):
    action = energy.find_action(action_id) or abort(404)
    energy.delete_action(action)
    flash(_("Action “%(name)s” deleted (its history stays in the ledgers).", name=action.name), "info")
    return redirect(url_for("admin_energy.actions"))


# ------------------------------------------------------------------------------------------ boosts


@bp.get("/admin/energy/boosts")
def boosts():
    return render_template("admin/energy/boosts.html", boosts=energy.list_boosts(active_only=False))


@bp.route("/admin/energy/boosts/new", methods=["GET", "POST"], defaults={"boost_id": None})
@bp.route("/admin/energy/boosts/<int:boost_id>", methods=["GET", "POST"])
def boost_form(boost_id):
    boost = (energy.find_boost(boost_id) or abort(404)) if boost_id else None
    form = BoostForm(obj=boost)
    if form.validate_on_submit():
        try:
            boost = energy.save_boost(boost, **_values(form))
        except energy.EnergyError as e:
            getattr(form, e.field).errors.append(str(e))
        else:
            flash(_("Boost “%(name)s” saved.", name=boost.name), "success")
            return redirect(url_for("admin_energy.boosts"))
    return render_template("admin/energy/boost_form.html", form=form, boost=boost), (400 if form.errors else 200)


@bp.post("/admin/energy/boosts/<int:boost_id>/delete")
def delete_boost(boost_id: int):
    boost = energy.find_boost(boost_id) or abort(404)
    energy.delete_boost(boost)
    flash(_("Boost “%(name)s” deleted; boosts players already bought keep working.", name=boost.name), "info")
    return redirect(url_for("admin_energy.boosts"))


# ------------------------------------------------------------------------------------------ flagged players


@bp.route("/admin/energy/flags", methods=["GET", "POST"])
def flags():
    form = AdjustForm()
    if form.validate_on_submit():
        user = users.by_email_or_external_id(form.player.data.strip())
        if user is None:
            form.player.errors.append(_("no player with that email or id"))
        else:
            try:
                r = energy.adjust(
                    user, form.amount.data, f"{form.reason.data} (admin #{current_user.id})", actor_id=current_user.id
                )
            except energy.EnergyError as e:
                form.amount.errors.append(str(e))
            else:
                flash(
                    _("%(name)s: energy now %(current)s/%(max)s.", name=user.name, current=r["current"], max=r["max"]),
                    "success",
                )
                return redirect(url_for("admin_energy.flags"))
    return render_template(
        "admin/energy/flags.html", reviews=energy.open_reviews(), resolved=energy.resolved_reviews(), form=form
    ), (400 if form.errors else 200)


@bp.post("/admin/energy/flags/<int:review_id>/resolve")
def resolve_flag(review_id: int):
    try:
        energy.resolve_review(
            review_id, (request.form.get("note") or "")[:255] or f"reviewed by admin #{current_user.id}"
        )
    except energy.EnergyError:  # the only refusal: no such review
        abort(404)
    flash(_("Marked as reviewed."), "success")
    return redirect(url_for("admin_energy.flags"))
