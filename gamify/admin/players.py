"""Admin: player lookup, full ledger history, audited manual points adjustments and freeze grants."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, or_
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from .. import params
from ..extensions import db
from ..fields import Whole
from ..models import (
    AchievementCompletion,
    FreezeLedger,
    MetricEvent,
    PointsAward,
    PointsBalance,
    PointsSystem,
    StreakPeriod,
    User,
    UserStreak,
)
from ..services import points as points_svc
from ..services import streaks as streaks_svc
from ..web import ui
from ..web.player import streak_view
from .base import bp

PER_PAGE = 25
TABS = [
    ("events", "Events"),
    ("points", "Points"),
    ("streak", "Streak periods"),
    ("freezes", "Freezes"),
    ("achievements", "Achievements"),
]


class AdjustForm(FlaskForm):
    system_id = SelectField("Points system", coerce=int)
    amount = Whole(
        "Amount",
        validators=[InputRequired(), NumberRange(min=-1_000_000, max=1_000_000)],
        description="Positive adds, negative removes. No boosts or caps apply.",
    )
    reason = StringField(
        "Reason",
        validators=[DataRequired(), Length(max=180)],
        description="Kept in the ledger with your admin id; the player sees it in their history.",
    )

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.system_id.choices = {
            s.id: f"{s.badge} {s.name}"
            for s in db.session.execute(db.select(PointsSystem).order_by(PointsSystem.id)).scalars()
        }

    def validate_amount(self, field):
        if field.data == 0:
            raise ValidationError("Enter a non-zero amount.")


class FreezeForm(FlaskForm):
    amount = Whole("Freezes", default=1, validators=[InputRequired(), NumberRange(min=1, max=50)])
    reason = StringField(
        "Reason", validators=[DataRequired(), Length(max=40)], description="e.g. “support ticket 123”."
    )


def _search(q: str):
    stmt = db.select(User).where(User.role == "player")
    q = (q or "").strip()
    if q:
        like = f"%{q.lower()}%"
        conds = [
            func.lower(User.email).like(like),
            func.lower(User.display_name).like(like),
            func.lower(User.external_id).like(like),
        ]
        user_id = params.whole(q, 1, params.MAX_INT)
        if user_id is not None:
            conds.append(User.id == user_id)
        stmt = stmt.where(or_(*conds))
    return stmt.order_by(User.last_seen_at.desc().nulls_last(), User.id.desc())


@bp.get("/players")
def players():
    q = request.args.get("q", "")
    page = params.page_arg(request.args)
    results = db.paginate(_search(q), page=page, per_page=PER_PAGE, error_out=False)
    if ui.is_htmx() and ui.hx_target() == "player-results":
        return render_template("admin/_player_results.html", results=results, q=q)
    return render_template("admin/players.html", results=results, q=q)


def _tab_query(user_id: int, tab: str):
    if tab == "points":
        return (
            db.select(PointsAward)
            .where(PointsAward.user_id == user_id)
            .order_by(PointsAward.awarded_at.desc(), PointsAward.id.desc())
        )
    if tab == "streak":
        return db.select(StreakPeriod).where(StreakPeriod.user_id == user_id).order_by(StreakPeriod.period_start.desc())
    if tab == "freezes":
        return (
            db.select(FreezeLedger)
            .where(FreezeLedger.user_id == user_id)
            .order_by(FreezeLedger.created_at.desc(), FreezeLedger.id.desc())
        )
    if tab == "achievements":
        return (
            db.select(AchievementCompletion)
            .where(AchievementCompletion.user_id == user_id)
            .order_by(AchievementCompletion.completed_at.desc())
        )
    return (
        db.select(MetricEvent)
        .where(MetricEvent.user_id == user_id)
        .order_by(MetricEvent.occurred_at.desc(), MetricEvent.id.desc())
    )


def _player_page(user: User, adjust: AdjustForm | None = None, freeze: FreezeForm | None = None, status: int = 200):
    tab = request.args.get("tab", "events")
    if tab not in dict(TABS):
        tab = "events"
    page = params.page_arg(request.args)
    rows = db.paginate(_tab_query(user.id, tab), page=page, per_page=PER_PAGE, error_out=False)
    systems = {s.id: s for s in db.session.execute(db.select(PointsSystem)).scalars()}
    ctx = dict(user=user, tab=tab, tabs=TABS, rows=rows, systems=systems)
    if ui.is_htmx() and ui.hx_target() == "ledger":
        return render_template("admin/_player_tab.html", **ctx)
    balances = [points_svc.summary(user, s) for s in systems.values()]
    streak = db.session.get(UserStreak, user.id)
    summary = streaks_svc.summary(user)
    counts = {
        "events": db.session.execute(
            db.select(func.count(MetricEvent.id)).where(MetricEvent.user_id == user.id)
        ).scalar_one(),
        "achievements": db.session.execute(
            db.select(func.count(AchievementCompletion.id)).where(AchievementCompletion.user_id == user.id)
        ).scalar_one(),
    }

    html = render_template(
        "admin/player.html",
        adjust=adjust or AdjustForm(prefix="adj"),
        streak_info=streak_view(summary, user.timezone),
        freeze=freeze or FreezeForm(prefix="frz"),
        balances=balances,
        streak=streak,
        summary=summary,
        counts=counts,
        **ctx,
    )
    db.session.commit()  # summary() may have settled missed periods
    return html, status


def _player_or_404(user_id: int) -> User:
    user = db.get_or_404(User, user_id)
    return user


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
        system = db.session.get(PointsSystem, form.system_id.data)
        row = db.session.get(PointsBalance, (user.id, system.id))
        balance = row.balance if row else 0
        if balance + form.amount.data < 0:
            form.amount.errors.append(f"The balance is {balance}; removing {-form.amount.data} would make it negative.")
        else:
            res = points_svc.award(
                user,
                system,
                form.amount.data,
                "admin",
                reason=audit_reason(form.reason.data),
                boosts=False,
                limits=False,
            )
            db.session.commit()
            flash(
                f"{'Added' if form.amount.data > 0 else 'Removed'} {abs(res['added'])} {system.name} "
                f"({'+' if res['added'] > 0 else ''}{res['added']}); balance is now {res['total']}.",
                "success",
            )
            return redirect(url_for("admin.player", user_id=user.id, tab="points"))
    db.session.rollback()
    return _player_page(user, adjust=form, status=400)


@bp.post("/players/<int:user_id>/freezes")
def player_freezes(user_id: int):
    user = _player_or_404(user_id)
    form = FreezeForm(prefix="frz")
    if form.validate_on_submit():
        reason = f"admin #{current_user.id}: {form.reason.data.strip()}"[:64]
        granted = streaks_svc.grant_freeze(user.id, reason, form.amount.data)
        db.session.commit()
        if granted == form.amount.data:
            flash(f"Granted {granted} freeze{'s' if granted != 1 else ''}.", "success")
        elif granted:
            flash(f"Granted {granted} of {form.amount.data}: the player reached the maximum.", "info")
        else:
            flash("No freeze granted: the player already holds the maximum.", "error")
        return redirect(url_for("admin.player", user_id=user.id, tab="freezes"))
    db.session.rollback()
    return _player_page(user, freeze=form, status=400)
