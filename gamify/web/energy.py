"""Player pages for energy: the self-refreshing bar partial, actions, the energy page (gifts, refills,
boosts, history) and friends. Login required everywhere; every POST is CSRF-protected."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Optional

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange
from wtforms.validators import Optional as Opt

from .. import i18n, params
from ..extensions import db
from ..fields import Whole
from ..models import User
from ..models._common import utcnow
from ..services import energy, friends, leaderboards, users
from ..services.energy import EnergyError
from ..services.events import EventError
from ..services.friends import FriendError
from . import ui

bp = Blueprint("energy", __name__)
_, _l = i18n.gettext, i18n.lazy_gettext
bp.before_request(ui.control_gate())

TX_LABELS = {
    "consumption": _l("Spent"),
    "regeneration": _l("Regenerated"),
    "token_refill": _l("Token refill"),
    "gift_sent": _l("Gift sent"),
    "gift_received": _l("Gift received"),
    "gift_refund": _l("Gift refunded"),
    "boost_applied": _l("Boost"),
    "admin_adjust": _l("Adjustment"),
    "daily_grant": _l("Daily energy"),
}
BOOST_LABELS = {
    "regen_speed": _l("Faster regeneration"),
    "max_energy_increase": _l("More max energy"),
    "consumption_reduction": _l("Cheaper actions"),
    "instant_refill": _l("Instant refill"),
}


@bp.context_processor
def _helpers():

    return {
        "energy_duration": i18n.duration,
        "tx_labels": TX_LABELS,
        "boost_labels": BOOST_LABELS,
    }


# ------------------------------------------------------------------------------------------ forms


class GiftForm(FlaskForm):
    recipient = SelectField(_l("Friend"), coerce=int, validators=[InputRequired(message=_l("Choose a friend."))])
    amount = Whole(_l("Energy"), validators=[InputRequired(message=_l("How much energy?"))])
    message = StringField(_l("Message (optional)"), validators=[Opt(), Length(max=200)])


class RefillForm(FlaskForm):
    tokens = Whole(
        _l("Tokens"), default=1, validators=[InputRequired(message=_l("How many tokens?")), NumberRange(min=1)]
    )


class FriendForm(FlaskForm):
    who = StringField(_l("Display name or email"), validators=[DataRequired(), Length(max=255)])


def _gift_form(user: User, limits: dict) -> GiftForm:
    form = GiftForm()
    form.recipient.choices = [SelectChoice(f.id, f.name) for f in friends.friends(user)]
    if request.method == "GET" and form.amount.data is None:
        form.amount.data = limits["default"]
    form.amount.validators = [
        InputRequired(message=_l("How much energy?")),
        NumberRange(min=limits["min"], max=limits["max"]),
    ]
    return form


# ------------------------------------------------------------------------------------------ bar


@bp.app_template_filter("refresh_in")
def refresh_in(status: dict) -> Optional[int]:
    """Seconds until the bar next changes by itself (the next +1, the end of a rest or of a boost), or
    None. Sent as a delay, not a time: the browser's clock may be off, its timer is not."""
    moments = [status.get("next_gain_at"), status.get("incapacitated_until")]
    moments += [b.get("expires_at") for b in status.get("boosts") or []]
    now = utcnow()
    left = [(datetime.fromisoformat(m) - now).total_seconds() for m in moments if m]
    return max(1, math.ceil(min(left))) if left else None


@bp.get("/energy/bar")
@login_required
def bar():
    """Just the bar partial (the bar asks for it when it next changes: templates/energy/_bar.html)."""
    html = render_template("energy/_bar.html", energy=energy.status(ui.me()))
    return html


# ------------------------------------------------------------------------------------------ actions


@bp.get("/actions")
@login_required
def actions():
    user = ui.me()
    acts = energy.list_actions()
    costs = energy.action_costs(user, acts)
    status = energy.status(user)
    html = render_template("energy/actions.html", actions=acts, costs=costs, energy=status)
    return html


@bp.post("/actions/<key>")
@login_required
def perform(key: str):
    user = ui.me()
    difficulty = request.form.get("difficulty") or None
    try:
        result = energy.perform_action(user, key, difficulty)
    except EventError as e:
        db.session.rollback()
        status = energy.status(user)
        if not ui.is_htmx():
            flash(str(e), "error")
            return redirect(url_for("energy.actions"))
        if e.status == 404 and e.field == "action":
            return render_template("energy/_action_result.html", error=str(e), energy=status, result=None), 200
        return render_template(
            "energy/_action_result.html", error=str(e), extra=e.extra, energy=status, result=None, action_key=key
        ), 200
    action = energy.get_action(key)
    status = energy.status(user)
    if not ui.is_htmx():
        flash(
            _("%(action)s: done, %(n)s energy spent.", action=action.name, n=i18n.num(result["energy"]["spent"])),
            "success",
        )
        return redirect(url_for("energy.actions"))
    return render_template(
        "energy/_action_result.html",
        result=result,
        action=action,
        energy=status,
        error=None,
        rank_moves=rank_moves(result.get("leaderboards") or []),
    )


def rank_moves(entries: list[dict]) -> list[dict]:
    """The player's overall ranks (global segment) this action changed, named, for the result (which a
    live region reads out): [{"name", "rank", "previous_rank"}]; previous_rank None on a first entry."""
    names = {b.key: b.name for b in leaderboards.active_boards()}
    return [
        {"name": names.get(e["key"], e["key"]), "rank": e["rank"], "previous_rank": e.get("previous_rank")}
        for e in entries
        if e.get("segment") == "global" and e.get("rank") is not None and e.get("rank") != e.get("previous_rank")
    ]


# ------------------------------------------------------------------------------------------ energy page


@bp.get("/energy")
@login_required
def page():
    return _render_page()


def _render_page(gift_form: Optional[GiftForm] = None, refill_form: Optional[RefillForm] = None, code: int = 200):
    user = ui.me()
    limits = energy.gift_limits(user)
    page_no = params.page_arg(request.args)
    s = energy.get_settings()
    html = render_template(
        "energy/energy.html",
        energy=energy.status(user),
        limits=limits,
        gift_form=gift_form or _gift_form(user, limits),
        refill_form=refill_form or RefillForm(),
        pending=energy.pending_gifts(user),
        sent=energy.sent_gifts(user, 5),
        boosts=energy.list_boosts(),
        history=energy.history(user, page_no),
        tokens=energy.token_balance(user),
        settings=s,
        has_friends=bool(friends.friends(user)),
    )
    return html, code


def _fail(e: Exception, anchor: str = ""):
    db.session.rollback()
    flash(str(e), "error")
    return redirect(url_for("energy.page") + anchor)


@bp.post("/energy/refill")
@login_required
def refill():
    user = ui.me()
    form = RefillForm()
    if not form.validate_on_submit():
        return _render_page(refill_form=form, code=400)
    try:
        r = energy.refill(user, form.tokens.data)
    except EnergyError as e:
        return _fail(e, "#refill")
    flash(
        i18n.ngettext(
            "+%(energy)s energy for %(num)s token.",
            "+%(energy)s energy for %(num)s tokens.",
            r["tokens_charged"],
            energy=i18n.num(r["energy_added"]),
        ),
        "success",
    )
    return redirect(url_for("energy.page"))


@bp.post("/energy/gifts")
@login_required
def send_gift():
    user = ui.me()
    limits = energy.gift_limits(user)
    form = _gift_form(user, limits)
    if not form.validate_on_submit():
        return _render_page(gift_form=form, code=400)
    recipient = users.by_id(form.recipient.data)
    try:
        gift = energy.send_gift(user, recipient, form.amount.data, form.message.data or "")
    except EnergyError as e:
        return _fail(e, "#gifts")
    flash(_("Sent %(n)s energy to %(name)s.", n=i18n.num(gift.amount), name=recipient.name), "success")
    return redirect(url_for("energy.page") + "#gifts")


@bp.post("/energy/gifts/<int:gift_id>/accept")
@login_required
def accept_gift(gift_id: int):
    user = ui.me()
    try:
        r = energy.accept_gift(user, gift_id)
    except EnergyError as e:
        return _fail(e, "#gifts")
    if r["credited"] < r["amount"]:
        flash(
            _(
                "+%(credited)s energy (of %(amount)s): your energy is capped at %(max)s.",
                credited=i18n.num(r["credited"]),
                amount=i18n.num(r["amount"]),
                max=i18n.num(r["max"]),
            ),
            "info",
        )
    else:
        flash(_("+%(n)s energy from your friend.", n=i18n.num(r["credited"])), "success")
    return redirect(url_for("energy.page") + "#gifts")


@bp.post("/energy/gifts/<int:gift_id>/decline")
@login_required
def decline_gift(gift_id: int):
    user = ui.me()
    try:
        gift = energy.decline_gift(user, gift_id)
    except EnergyError as e:
        return _fail(e, "#gifts")
    flash(
        _("Gift declined: the %(n)s energy went back to %(name)s.", n=i18n.num(gift.amount), name=gift.sender.name),
        "info",
    )
    return redirect(url_for("energy.page") + "#gifts")


@bp.post("/energy/boosts/<key>")
@login_required
def apply_boost(key: str):
    user = ui.me()
    try:
        pb = energy.apply_boost(user, key)
    except EnergyError as e:
        return _fail(e, "#boosts")
    if pb.expires_at and pb.type != "instant_refill":
        flash(_("%(boost)s applied until %(when)s.", boost=pb.name, when=ui.localdt(pb.expires_at)), "success")
    else:
        flash(_("%(boost)s applied.", boost=pb.name), "success")
    return redirect(url_for("energy.page") + "#boosts")


# ------------------------------------------------------------------------------------------ friends


@bp.route("/friends", methods=["GET", "POST"])
@login_required
def friends_page():
    user = ui.me()
    form = FriendForm()
    code = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                _row, msg = friends.request(user, form.who.data)
            except FriendError as e:
                db.session.rollback()
                form.who.errors = [str(e)]
                code = 400 if e.status == 400 else e.status
            else:
                flash(msg, "success")
                return redirect(url_for("energy.friends_page"))
        else:
            code = 400
    html = render_template(
        "energy/friends.html",
        form=form,
        friends=friends.friends(user),
        incoming=friends.incoming(user),
        outgoing=friends.outgoing(user),
    )
    return html, code


def _friend_action(fn, ok: str):
    try:
        fn()
    except FriendError as e:
        db.session.rollback()
        flash(str(e), "error")
    else:
        flash(ok, "success")
    return redirect(url_for("energy.friends_page"))


@bp.post("/friends/<int:fid>/accept")
@login_required
def accept_friend(fid: int):
    user = ui.me()
    return _friend_action(lambda: friends.accept(user, fid), _("Friend request accepted."))


@bp.post("/friends/<int:fid>/decline")
@login_required
def decline_friend(fid: int):
    user = ui.me()
    return _friend_action(lambda: friends.decline(user, fid), _("Request removed."))


@bp.post("/friends/remove/<int:user_id>")
@login_required
def remove_friend(user_id: int):
    user = ui.me()
    if user_id == user.id:
        abort(400)
    return _friend_action(lambda: friends.remove(user, user_id), _("Friend removed."))
