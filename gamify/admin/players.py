"""Admin: player lookup, full ledger history, audited manual points adjustments, freeze grants and streak
pauses, and erasing a player (a data-erasure request; the same service as DELETE /api/v1/users/<id>)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from .. import params
from ..fields import Day, Whole
from ..i18n import _, _l, ngettext
from ..models import User
from ..services import erasure, streak_pauses, users
from ..services import points as points_svc
from ..services import streaks as streaks_svc
from ..web import ui
from ..web.player import streak_view
from .base import bp

PER_PAGE = 25
TABS = [
    ("events", _l("Events")),
    ("points", _l("Points")),
    ("streak", _l("Streak periods")),
    ("freezes", _l("Freezes")),
    ("achievements", _l("Achievements")),
]


class AdjustForm(FlaskForm):
    system_id = SelectField(_l("Points system"), coerce=int)
    amount = Whole(
        _l("Amount"),
        validators=[InputRequired(), NumberRange(min=-1_000_000, max=1_000_000)],
        description=_l("Positive adds, negative removes. No boosts or caps apply."),
    )
    reason = StringField(
        _l("Reason"),
        validators=[DataRequired(), Length(max=180)],
        description=_l("Kept in the ledger with your admin id; the player sees it in their history."),
    )

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.system_id.choices = {s.id: f"{s.badge} {s.name}" for s in points_svc.all_systems()}

    def validate_amount(self, field):
        if field.data == 0:
            raise ValidationError(_("Enter a non-zero amount."))


class FreezeForm(FlaskForm):
    amount = Whole(_l("Freezes"), default=1, validators=[InputRequired(), NumberRange(min=1, max=50)])
    reason = StringField(
        _l("Reason"), validators=[DataRequired(), Length(max=40)], description=_l("e.g. “support ticket 123”.")
    )


class PauseForm(FlaskForm):
    start = Day(_l("First paused day"), validators=[InputRequired(message="Enter the first paused day.")])
    end = Day(_l("Last paused day"), validators=[InputRequired(message="Enter the last paused day.")])
    reason = StringField(
        _l("Reason"),
        validators=[Length(max=streak_pauses.REASON_MAX)],
        description=_l("Optional, e.g. “holiday”; the player sees it on their streak page."),
    )


class EraseForm(FlaskForm):
    confirm = StringField(
        _l("Type the player's external id to confirm"),
        validators=[DataRequired(message=_l("Type the player's external id to confirm.")), Length(max=128)],
    )


@bp.get("/players")
def players():
    q = request.args.get("q", "")
    page = params.page_arg(request.args)
    results = users.search_players(q, params.whole(q.strip(), 1, params.MAX_INT), page, PER_PAGE)
    if ui.is_htmx() and ui.hx_target() == "player-results":
        return render_template("admin/_player_results.html", results=results, q=q)
    return render_template("admin/players.html", results=results, q=q)


def _player_page(
    user: User,
    adjust: AdjustForm | None = None,
    freeze: FreezeForm | None = None,
    pause: PauseForm | None = None,
    erase: EraseForm | None = None,
    status: int = 200,
):
    tab = request.args.get("tab", "events")
    if tab not in dict(TABS):
        tab = "events"
    rows = users.ledger_page(user.id, tab, params.page_arg(request.args), PER_PAGE)
    systems = {s.id: s for s in points_svc.all_systems()}
    ctx = dict(user=user, tab=tab, tabs=TABS, rows=rows, systems=systems)
    if ui.is_htmx() and ui.hx_target() == "ledger":
        return render_template("admin/_player_tab.html", **ctx)
    balances = [points_svc.summary(user, s) for s in systems.values()]
    streak = streaks_svc.streak_row(user.id)
    summary = streaks_svc.summary(user)
    html = render_template(
        "admin/player.html",
        adjust=adjust or AdjustForm(prefix="adj"),
        streak_info=streak_view(summary, user.timezone),
        freeze=freeze or FreezeForm(prefix="frz"),
        pause=pause or PauseForm(prefix="pse"),
        pauses=streak_pauses.of_user(user.id)[:10],
        today=streak_pauses.today_of(user),
        erase=erase or EraseForm(prefix="era"),
        balances=balances,
        streak=streak,
        summary=summary,
        counts=users.activity_counts(user.id),
        devices=users.device_tokens(user.id),
        **ctx,
    )
    return html, status


def _player_or_404(user_id: int) -> User:
    return users.by_id(user_id) or abort(404)


@bp.get("/players/<int:user_id>")
def player(user_id: int):
    return _player_page(_player_or_404(user_id))


def audit_reason(reason: str) -> str:
    """The admin's reason plus who did it, within the ledger column (255)."""
    suffix = f" (by admin #{current_user.id})"
    return reason.strip()[: 255 - len(suffix)] + suffix


@bp.post("/players/<int:user_id>/adjust")
def player_adjust(user_id: int):
    user = _player_or_404(user_id)
    form = AdjustForm(prefix="adj")
    if form.validate_on_submit():
        try:
            system, res = points_svc.admin_adjust(
                user, form.system_id.data, form.amount.data, audit_reason(form.reason.data)
            )
        except points_svc.PointsError as e:
            form.amount.errors.append(str(e))
        else:
            flash(
                (
                    _(
                        "Added %(n)s %(system)s (%(change)s); balance is now %(total)s.",
                        n=abs(res["added"]),
                        system=system.name,
                        change=format(res["added"], "+d"),
                        total=res["total"],
                    )
                    if form.amount.data > 0
                    else _(
                        "Removed %(n)s %(system)s (%(change)s); balance is now %(total)s.",
                        n=abs(res["added"]),
                        system=system.name,
                        change=format(res["added"], "+d"),
                        total=res["total"],
                    )
                ),
                "success",
            )
            return redirect(url_for("admin.player", user_id=user.id, tab="points"))
    return _player_page(user, adjust=form, status=400)


@bp.post("/players/<int:user_id>/freezes")
def player_freezes(user_id: int):
    user = _player_or_404(user_id)
    form = FreezeForm(prefix="frz")
    if form.validate_on_submit():
        reason = f"admin #{current_user.id}: {form.reason.data.strip()}"[:64]
        granted = streaks_svc.grant_freeze(user.id, reason, form.amount.data)
        if granted == form.amount.data:
            flash(ngettext("Granted %(num)s freeze.", "Granted %(num)s freezes.", granted), "success")
        elif granted:
            flash(
                _("Granted %(n)s of %(asked)s: the player reached the maximum.", n=granted, asked=form.amount.data),
                "info",
            )
        else:
            flash(_("No freeze granted: the player already holds the maximum."), "error")
        return redirect(url_for("admin.player", user_id=user.id, tab="freezes"))
    return _player_page(user, freeze=form, status=400)


@bp.post("/players/<int:user_id>/pauses")
def player_pause(user_id: int):
    """Pause the player's streak for a span of their local days (services/streak_pauses.py)."""
    user = _player_or_404(user_id)
    form = PauseForm(prefix="pse")
    if form.validate_on_submit():
        try:
            pause = streak_pauses.create(
                user,
                form.start.data,
                form.end.data,
                reason=(form.reason.data or "").strip(),
                created_by=f"admin #{current_user.id}",
            )
        except streak_pauses.PauseError as e:
            getattr(form, e.field, form.start).errors.append(str(e))
        else:
            flash(
                _(
                    "Streak paused from %(start)s to %(end)s.",
                    start=pause.start_on.isoformat(),
                    end=pause.end_on.isoformat(),
                ),
                "success",
            )
            return redirect(url_for("admin.player", user_id=user.id, tab="streak"))
    return _player_page(user, pause=form, status=400)


@bp.post("/players/<int:user_id>/pauses/<pause_id>/delete")
def player_unpause(user_id: int, pause_id: str):
    user = _player_or_404(user_id)
    pause = streak_pauses.get(pause_id)
    if pause is None or pause.user_id != user.id:
        abort(404)
    streak_pauses.delete(pause)
    flash(
        _("Pause of %(start)s to %(end)s deleted.", start=pause.start_on.isoformat(), end=pause.end_on.isoformat()),
        "success",
    )
    return redirect(url_for("admin.player", user_id=user.id, tab="streak"))


@bp.post("/players/<int:user_id>/delete")
def player_erase(user_id: int):
    """Erase the player and everything that references them (services/erasure.py), once the admin typed
    the player's external id: a slip of the mouse on the wrong player's page erases nothing."""
    user = _player_or_404(user_id)
    form = EraseForm(prefix="era")
    if form.validate_on_submit():
        if not user.external_id or form.confirm.data.strip() != user.external_id:
            form.confirm.errors.append(_("That is not %(name)s's external id: nothing was erased.", name=user.name))
        else:
            name, external_id = user.name, user.external_id
            try:
                rows = erasure.erase(user)
            except erasure.ErasureError as e:
                form.confirm.errors.append(str(e))
            else:
                flash(
                    _(
                        "Erased %(name)s (%(id)s): %(rows)s rows in %(tables)s tables.",
                        name=name,
                        id=external_id,
                        rows=sum(rows.values()),
                        tables=len(rows),
                    ),
                    "success",
                )
                return redirect(url_for("admin.players"))
    return _player_page(user, erase=form, status=400)
