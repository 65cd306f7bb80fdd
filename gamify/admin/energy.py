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
    free_max = _num("Free: max energy", 1, 100000)
    free_regen_per_hour = _num("Free: regeneration per hour", 0, 100000, integer=False)
    premium_max = _num("Premium: max energy", 1, 100000)
    premium_regen_per_hour = _num("Premium: regeneration per hour", 0, 100000, integer=False)
    tick_minutes = _num("Tick (minutes)", 1, 1440, "Energy comes back on these clock boundaries.")
    max_skill_bonus = _num(
        "Max-energy bonus from skills (cap)",
        0,
        100000,
        "Endurance: +3 per 10 levels (at most +15); meditation: +2 per 15 levels (at most +10); the sum up to this.",
    )
    fatigue_gain_per_energy = _num("Fatigue per energy spent", 0, 100, integer=False)
    endurance_fatigue_reduction = _num("Fatigue reduction at endurance 100 (0-1)", 0, 1, integer=False)
    fatigue_recovery_per_hour = _num("Fatigue recovery per hour", 0, 100, integer=False)
    meditation_recovery_bonus = _num("Extra recovery per hour at meditation 100", 0, 100, integer=False)
    fatigue_regen_penalty = _num("Regeneration lost at fatigue 100 (0-1)", 0, 1, integer=False)
    max_skill_cost_reduction = _num("Max total skill cost reduction (0-1)", 0, 1, integer=False)
    daily_grant = _num(
        "Energy given at each player's local midnight",
        0,
        100000,
        "Once a day, capped at max (0: off).",
    )
    flag_spend_per_hour = _num(
        "Flag a player spending more than this in an hour",
        1,
        1000000,
        "Anti-cheat (the energy spec's 200). Empty: only the other rule (more than max + regeneration + top-ups).",
        required=False,
    )
    token_system_key = StringField("Token points system key", validators=[DataRequired(), Length(max=64)])
    energy_per_token = _num("Energy per token", 1, 100000)
    max_tokens_per_refill = _num("Max tokens per refill", 1, 100000)
    max_energy_per_refill = _num("Max energy per refill", 1, 100000)
    gifts_sent_per_day = _num("Gifts a player may send per day", 0, 1000)
    gifts_received_per_day = _num("Gifts a player may receive per day", 0, 1000)
    gift_min = _num("Smallest gift", 1, 100000)
    gift_max = _num("Largest gift", 1, 100000)
    gift_default = _num("Default gift", 1, 100000)
    gift_expiry_hours = _num("Gift expiry (hours)", 1, 24 * 365)
    refund_expired_gifts = BooleanField("Refund the sender when a gift expires")
    low_threshold = _num("“Energy low” threshold", 0, 100000)

    def validate_gift_max(self, field):
        if self.gift_min.data is not None and field.data is not None and field.data < self.gift_min.data:
            raise ValidationError("must be at least the smallest gift")

    def validate_gift_default(self, field):
        lo, hi = self.gift_min.data, self.gift_max.data
        if None not in (lo, hi, field.data) and not lo <= field.data <= hi:
            raise ValidationError("must be between the smallest and the largest gift")


def _parse_pairs(text: str, what: str, lo: float, hi: float) -> dict:
    """'easy=0.8, hard=1.3' -> {'easy': 0.8, 'hard': 1.3}."""
    out = {}
    for part in re.split(r"[,\n]", text or ""):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValidationError(f"write {what} as name=value, separated by commas")
        name, value = (p.strip() for p in part.split("=", 1))
        if not re.match(r"^[a-z][a-z0-9_]{0,63}$", name):
            raise ValidationError(f"invalid name “{name}” (lowercase letters, digits, _)")
        try:
            v = float(value)
        except ValueError:
            raise ValidationError(f"“{value}” is not a number") from None
        if not lo <= v <= hi:
            raise ValidationError(f"{name} must be between {lo:g} and {hi:g}")
        out[name] = v
    return out


def _pairs_text(d: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in (d or {}).items())


class ActionForm(FlaskForm):
    key = StringField("Key", validators=KEY)
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    base_cost = _num("Base energy cost", 0, 100000, "0 = free")
    difficulties = StringField(
        "Difficulty multipliers",
        validators=[Optional(), Length(max=500)],
        description="e.g. easy=0.8, medium=1.0, hard=1.3, expert=1.6 — empty: no choice",
    )
    skill_reductions = StringField(
        "Skill cost reductions (% at level 100)",
        validators=[Optional(), Length(max=500)],
        description="e.g. gun_fighting=25 (the total is capped in the settings)",
    )
    metric_key = SelectField("Records metric", validators=[DataRequired()])
    metric_value = Number("Metric value", default=1.0, validators=[InputRequired()])
    position = Whole("Order", default=0, validators=[Optional()])
    active = BooleanField("Active", default=True)

    def validate_difficulties(self, field):
        self.parsed_difficulties = _parse_pairs(field.data, "difficulties", 0.01, 100)

    def validate_skill_reductions(self, field):
        self.parsed_reductions = _parse_pairs(field.data, "reductions", 0, 100)


class BoostForm(FlaskForm):
    key = StringField("Key", validators=KEY)
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    type = SelectField("Type", choices=[SelectChoice(t, t) for t in engine.BOOST_TYPES])
    effect_value = Number(
        "Effect value",
        validators=[InputRequired(), NumberRange(min=0, max=100000)],
        description="regen_speed: +% regeneration; max_energy_increase: +max; "
        "consumption_reduction: % cheaper; instant_refill: energy (0 = to max)",
    )
    duration_minutes = Whole(
        "Duration (minutes)", validators=[Optional(), NumberRange(min=1)], description="Empty = permanent"
    )
    token_cost = _num("Token cost", 0, 1000000)
    rarity = SelectField("Rarity", choices=[SelectChoice(r, r) for r in engine.RARITIES])
    active = BooleanField("On sale", default=True)


def _values(form: FlaskForm) -> dict:
    """The form's fields by name, without the CSRF token."""
    return {name: value for name, value in form.data.items() if name != "csrf_token"}


class AdjustForm(FlaskForm):
    player = StringField("Player (email or external id)", validators=[DataRequired(), Length(max=255)])
    amount = Whole("Energy (+/-)", validators=[InputRequired()])
    reason = StringField("Reason", validators=[DataRequired(), Length(max=200)])


# ------------------------------------------------------------------------------------------ settings


@bp.route("/admin/energy", methods=["GET", "POST"])
def settings():
    s = energy.get_settings()
    form = SettingsForm(obj=s)
    if form.validate_on_submit():
        energy.update_settings(**_values(form))
        flash("Energy settings saved.", "success")
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
            flash(f"Action “{action.name}” saved.", "success")
            return redirect(url_for("admin_energy.actions"))
    if not form.metric_key.choices:
        flash("Create a metric first: every action records a metric event.", "info")
    return render_template("admin/energy/action_form.html", form=form, action=action), (400 if form.errors else 200)


@bp.post("/admin/actions/<int:action_id>/delete")
def delete_action(action_id: int):
    action = energy.find_action(action_id) or abort(404)
    energy.delete_action(action)
    flash(f"Action “{action.name}” deleted (its history stays in the ledgers).", "info")
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
            flash(f"Boost “{boost.name}” saved.", "success")
            return redirect(url_for("admin_energy.boosts"))
    return render_template("admin/energy/boost_form.html", form=form, boost=boost), (400 if form.errors else 200)


@bp.post("/admin/energy/boosts/<int:boost_id>/delete")
def delete_boost(boost_id: int):
    boost = energy.find_boost(boost_id) or abort(404)
    energy.delete_boost(boost)
    flash(f"Boost “{boost.name}” deleted; boosts players already bought keep working.", "info")
    return redirect(url_for("admin_energy.boosts"))


# ------------------------------------------------------------------------------------------ flagged players


@bp.route("/admin/energy/flags", methods=["GET", "POST"])
def flags():
    form = AdjustForm()
    if form.validate_on_submit():
        user = users.by_email_or_external_id(form.player.data.strip())
        if user is None:
            form.player.errors.append("no player with that email or id")
        else:
            try:
                r = energy.adjust(
                    user, form.amount.data, f"{form.reason.data} (admin #{current_user.id})", actor_id=current_user.id
                )
            except energy.EnergyError as e:
                form.amount.errors.append(str(e))
            else:
                flash(f"{user.name}: energy now {r['current']}/{r['max']}.", "success")
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
    flash("Marked as reviewed.", "success")
    return redirect(url_for("admin_energy.flags"))
