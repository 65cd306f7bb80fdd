"""Admin console: every route needs an admin; players get 403."""
from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..models import ApiKey
from ..models._common import utcnow
from ..services import apikeys

bp = Blueprint("admin", __name__)


@bp.before_request
@login_required
def _require_admin():
    if not current_user.is_admin:
        abort(403)


def admin_required(fn):
    """For admin routes registered outside this blueprint."""
    @wraps(fn)
    @login_required
    def wrapper(*a, **kw):
        if not current_user.is_admin:
            abort(403)
        return fn(*a, **kw)
    return wrapper


class ApiKeyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])


@bp.get("/")
def index():
    return render_template("admin/index.html")


@bp.route("/api-keys", methods=["GET", "POST"])
def api_keys():
    form = ApiKeyForm()
    secret = None
    if form.validate_on_submit():
        _key, secret = apikeys.create(form.name.data.strip())
        db.session.commit()
        flash("API key created. Copy it now: it is not shown again.", "success")
    keys = db.session.execute(db.select(ApiKey).order_by(ApiKey.created_at.desc())).scalars().all()
    return render_template("admin/api_keys.html", form=form, keys=keys, secret=secret)


@bp.post("/api-keys/<int:key_id>/revoke")
def revoke_api_key(key_id: int):
    key = db.get_or_404(ApiKey, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
        flash(f"Key {key.prefix}… revoked.", "info")
    return redirect(url_for("admin.api_keys"))
