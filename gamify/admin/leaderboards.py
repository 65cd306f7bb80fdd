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
from ..models import Leaderboard
from ..models._common import utcnow
from ..services import leaderboards as svc
from ..services import metrics, points
from .base import admin_blueprint

bp = admin_blueprint("admin_leaderboards", __name__)


class LeaderboardForm(FlaskForm):
    key = StringField(
        "Key",
        validators=[
            DataRequired(),
            Length(max=64),
            Regexp(r"^[a-z0-9][a-z0-9_-]*$", message="lower-case letters, digits, '-' and '_' only"),
        ],
        description="Used in the API and URLs; cannot be changed later.",
    )
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    ranked_by = SelectField(
        "Ranked by",
        choices=[
            SelectChoice("metric", "Metric total"),
            SelectChoice("points", "Points balance"),
            SelectChoice("streak", "Streak length"),
        ],
    )
    metric_id = SelectField("Metric", choices=[], validate_choice=False)
    system_id = SelectField("Points system", choices=[], validate_choice=False)
    frequency = SelectField(
        "Runs",
        choices=[
            SelectChoice("perpetual", "Perpetual (all time)"),
            SelectChoice("daily", "Daily"),
            SelectChoice("weekly", "Weekly"),
            SelectChoice("monthly", "Monthly"),
        ],
    )
    start_date = Day(
        "Start date",
        validators=[Optional()],
        description="Repeating boards: first day counted; weeks/months start on this day.",
    )
    participant_limit = Whole(
        "Participant limit (top N)", default=10, validators=[DataRequired(), NumberRange(min=1, max=1000)]
    )
    breakdown = StringField(
        "Breakdown attributes",
        validators=[Optional(), Length(max=300)],
        description="Comma-separated player attributes, e.g. city, tier. "
        "A segment appears for every value players have.",
    )
    active = BooleanField("Active", default=True)

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
        flash(f"Saved. Redis is unavailable ({e}); rankings will be rebuilt on the next read.", "info")


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
            flash(f"Leaderboard '{board.name}' created.", "success")
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
                f"Leaderboard '{board.name}' saved{' and its open periods recomputed' if recomputed else ''}.",
                "success",
            )
            return redirect(url_for("admin_leaderboards.index"))
    return render_template("admin/leaderboards/form.html", form=form, board=board)


@bp.post("/<int:board_id>/delete")
def delete(board_id: int):
    board = _board_or_404(board_id)
    name = board.name
    svc.delete_board(board)
    flash(f"Leaderboard '{name}' deleted.", "info")
    return redirect(url_for("admin_leaderboards.index"))


@bp.post("/rebuild")
def rebuild():
    try:
        done = svc.rebuild()
        flash(f"Redis rebuilt from SQL for {len(done)} leaderboard(s).", "success")
    except RedisError as e:
        db.session.rollback()  # the redirect would commit a half-done rebuild
        flash(f"Redis is unavailable: {e}", "error")
    return redirect(url_for("admin_leaderboards.index"))


@bp.post("/finalise")
def finalise():
    done = svc.finalise_due(utcnow())
    flash(f"Finalised {len(done)} period(s).", "success" if done else "info")
    return redirect(url_for("admin_leaderboards.index"))
