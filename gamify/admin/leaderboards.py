"""Admin: leaderboard CRUD, participant counts and a "Rebuild Redis" button (every route admin-only)."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from redis.exceptions import RedisError
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from .. import params
from ..extensions import db
from ..fields import Day, Whole
from ..i18n import _, _l, ngettext
from ..models import Leaderboard
from ..models._common import utcnow
from ..services import leaderboards as svc
from ..services import metrics, points
from .base import admin_blueprint

bp = admin_blueprint("admin_leaderboards", __name__)


class LeaderboardForm(FlaskForm):
    key = StringField(
        _l("Key"),
        validators=[
            DataRequired(),
            Length(max=64),
            Regexp(r"^[a-z0-9][a-z0-9_-]*$", message="lower-case letters, digits, '-' and '_' only"),
        ],
        description=_l("Used in the API and URLs; cannot be changed later."),
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    ranked_by = SelectField(
        _l("Ranked by"),
        choices=[
            SelectChoice("metric", _l("Metric total")),
            SelectChoice("points", _l("Points balance")),
            SelectChoice("streak", _l("Streak length")),
        ],
    )
    metric_id = SelectField(_l("Metric"), choices=[], validate_choice=False)
    system_id = SelectField(_l("Points system"), choices=[], validate_choice=False)
    frequency = SelectField(
        _l("Runs"),
        choices=[
            SelectChoice("perpetual", _l("Perpetual (all time)")),
            SelectChoice("daily", _l("Daily")),
            SelectChoice("weekly", _l("Weekly")),
            SelectChoice("monthly", _l("Monthly")),
        ],
    )
    start_date = Day(
        _l("Start date"),
        validators=[Optional()],
        description=_l("Repeating boards: first day counted; weeks/months start on this day."),
    )
    participant_limit = Whole(
        _l("Participant limit (top N)"), default=10, validators=[DataRequired(), NumberRange(min=1, max=1000)]
    )
    breakdown = StringField(
        _l("Breakdown attributes"),
        validators=[Optional(), Length(max=300)],
        description=_l(
            "Comma-separated player attributes, e.g. city, tier. A segment appears for every value players have."
        ),
    )
    active = BooleanField(_l("Active"), default=True)

    def fill_choices(self) -> None:
        self.metric_id.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(m.id), f"{m.name} ({m.key})") for m in metrics.list_by_name()
        ]
        self.system_id.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(s.id), f"{s.name} ({s.key})") for s in points.systems_by_name()
        ]

    def data_dict(self) -> dict:
        def as_id(v):
            return params.whole(str(v), 1, params.MAX_INT) if v not in (None, "") else None

        return {
            "key": (self.key.data or "").strip(),
            "name": self.name.data,
            "ranked_by": self.ranked_by.data,
            "metric_id": as_id(self.metric_id.data),
            "system_id": as_id(self.system_id.data),
            "frequency": self.frequency.data,
            "start_date": self.start_date.data,
            "participant_limit": self.participant_limit.data,
            "breakdown": self.breakdown.data or "",
            "active": bool(self.active.data),
        }


def _form_errors(form: LeaderboardForm, err: svc.LeaderboardError) -> None:
    target = getattr(form, err.field, None)
    if target is not None:
        target.errors = list(target.errors) + [str(err)]
    else:
        flash(str(err), "error")


def _try_rebuild(board: Leaderboard) -> None:
    try:
        svc.rebuild(board)
    except RedisError as e:
        db.session.rollback()  # the redirect would commit a half-done rebuild
        flash(
            _("Saved. Redis is unavailable (%(error)s); rankings will be rebuilt on the next read.", error=str(e)),
            "info",
        )


@bp.get("/")
def index():
    rows = [
        {"board": b, "period": svc.current_period(b), "participants": svc.participants(b)} for b in svc.all_boards()
    ]
    return render_template("admin/leaderboards/index.html", rows=rows)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = LeaderboardForm()
    form.fill_choices()
    if not form.is_submitted():
        form.start_date.data = date.today()
    if form.validate_on_submit():
        try:
            board = svc.create(form.data_dict())
            db.session.commit()  # the board is kept when a failed Redis rebuild rolls back
        except svc.LeaderboardError as e:
            db.session.rollback()  # the form page answers 200, which the unit of work would commit
            _form_errors(form, e)
        else:
            _try_rebuild(board)
            flash(_("Leaderboard '%(name)s' created.", name=board.name), "success")
            return redirect(url_for("admin_leaderboards.index"))
    return render_template("admin/leaderboards/form.html", form=form, board=None)


def _board_or_404(board_id: int) -> Leaderboard:
    return svc.by_id(board_id) or abort(404)


@bp.route("/<int:board_id>/edit", methods=["GET", "POST"])
def edit(board_id: int):
    board = _board_or_404(board_id)
    form = LeaderboardForm(obj=board)
    form.fill_choices()
    if not form.is_submitted():
        form.metric_id.data = str(board.metric_id or "")
        form.system_id.data = str(board.system_id or "")
        form.breakdown.data = ", ".join(board.breakdown or [])
    form.key.data = board.key  # immutable
    if form.validate_on_submit():
        try:
            recomputed = svc.update_board(board, form.data_dict())
            db.session.commit()  # the change is kept when a failed Redis rebuild rolls back
        except svc.LeaderboardError as e:
            db.session.rollback()  # the form page answers 200, which the unit of work would commit
            _form_errors(form, e)
        else:
            _try_rebuild(board)
            flash(
                _("Leaderboard '%(name)s' saved and its open periods recomputed.", name=board.name)
                if recomputed
                else _("Leaderboard '%(name)s' saved.", name=board.name),
                "success",
            )
            return redirect(url_for("admin_leaderboards.index"))
    return render_template("admin/leaderboards/form.html", form=form, board=board)


@bp.post("/<int:board_id>/delete")
def delete(board_id: int):
    board = _board_or_404(board_id)
    name = board.name
    svc.delete_board(board)
    flash(_("Leaderboard '%(name)s' deleted.", name=name), "info")
    return redirect(url_for("admin_leaderboards.index"))


@bp.post("/rebuild")
def rebuild():
    try:
        done = svc.rebuild()
        flash(
            ngettext(
                "Redis rebuilt from SQL for %(num)s leaderboard.",
                "Redis rebuilt from SQL for %(num)s leaderboards.",
                len(done),
            ),
            "success",
        )
    except RedisError as e:
        db.session.rollback()  # the redirect would commit a half-done rebuild
        flash(_("Redis is unavailable: %(error)s", error=str(e)), "error")
    return redirect(url_for("admin_leaderboards.index"))


@bp.post("/finalise")
def finalise():
    done = svc.finalise_due(utcnow())
    flash(ngettext("Finalised %(num)s period.", "Finalised %(num)s periods.", len(done)), "success" if done else "info")
    return redirect(url_for("admin_leaderboards.index"))
