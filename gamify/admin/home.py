"""Admin home: the overview page and the host app's API keys."""

from datetime import timedelta

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..models import (
    Achievement,
    AchievementCompletion,
    ApiKey,
    BackfillRun,
    Metric,
    MetricEvent,
    PointsSystem,
    User,
)
from ..models._common import utcnow
from ..services import apikeys
from .base import bp
from .streak import current_config


class ApiKeyForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired(), Length(max=120)],
        description="Where the key is used, e.g. “production backend”.",
    )


@bp.get("/")
def index():
    now = utcnow()
    player_count = db.session.execute(db.select(func.count(User.id)).where(User.role == "player")).scalar_one()
    active_7d = db.session.execute(
        db.select(func.count(func.distinct(MetricEvent.user_id))).where(
            MetricEvent.occurred_at >= now - timedelta(days=7)
        )
    ).scalar_one()
    events_24h = db.session.execute(
        db.select(func.count(MetricEvent.id)).where(MetricEvent.occurred_at >= now - timedelta(days=1))
    ).scalar_one()
    completions_7d = db.session.execute(
        db.select(func.count(AchievementCompletion.id)).where(
            AchievementCompletion.completed_at >= now - timedelta(days=7), AchievementCompletion.backdated.is_(False)
        )
    ).scalar_one()
    counts = {
        "metrics": db.session.execute(db.select(func.count(Metric.id))).scalar_one(),
        "achievements": db.session.execute(
            db.select(func.count(Achievement.id)).where(Achievement.status == "active")
        ).scalar_one(),
        "systems": db.session.execute(db.select(func.count(PointsSystem.id))).scalar_one(),
        "keys": db.session.execute(db.select(func.count(ApiKey.id)).where(ApiKey.revoked_at.is_(None))).scalar_one(),
    }
    runs = list(
        db.session.execute(
            db.select(BackfillRun).order_by(BackfillRun.created_at.desc(), BackfillRun.id.desc()).limit(5)
        ).scalars()
    )

    return render_template(
        "admin/index.html",
        players=player_count,
        active_7d=active_7d,
        events_24h=events_24h,
        completions_7d=completions_7d,
        counts=counts,
        runs=runs,
        streak_config=current_config(),
    )


@bp.route("/api-keys", methods=["GET", "POST"])
def api_keys():
    form = ApiKeyForm()
    secret = None
    status = 200
    if form.validate_on_submit():
        _key, secret = apikeys.create(form.name.data.strip())
        db.session.commit()
        flash("API key created. Copy it now: it is not shown again.", "success")
    elif form.errors:
        status = 400
    keys = db.session.execute(db.select(ApiKey).order_by(ApiKey.created_at.desc())).scalars().all()
    return render_template("admin/api_keys.html", form=form, keys=keys, secret=secret), status


@bp.post("/api-keys/<int:key_id>/revoke")
def revoke_api_key(key_id: int):
    key = db.get_or_404(ApiKey, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
        flash(f"Key {key.prefix}… revoked. Requests using it are refused from now on.", "info")
    return redirect(url_for("admin.api_keys"))
