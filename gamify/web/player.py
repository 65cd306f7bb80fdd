"""Player pages (login required)."""
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..extensions import db
from ..models import PointsSystem
from ..services import points, streaks

bp = Blueprint("player", __name__)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("admin.index") if current_user.is_admin else url_for("player.dashboard"))
    return redirect(url_for("auth.login"))


@bp.get("/dashboard")
@login_required
def dashboard():
    streak = streaks.summary(current_user)
    systems = db.session.execute(db.select(PointsSystem).order_by(PointsSystem.id)).scalars()
    pts = [points.summary(current_user, s) for s in systems]
    db.session.commit()
    return render_template("player/dashboard.html", streak=streak, points=pts)
