"""Admin home: the overview page and the host app's API keys."""

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..i18n import _, _l
from ..services import analytics, apikeys
from .base import bp
from .streak import current_config


class ApiKeyForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=120)],
        description=_l("Where the key is used, e.g. “production backend”."),
    )


@bp.get("/")
def index():
    return render_template("admin/index.html", **analytics.overview(), streak_config=current_config())


@bp.route("/api-keys", methods=["GET", "POST"])
def api_keys():
    form = ApiKeyForm()
    secret = None
    status = 200
    if form.validate_on_submit():
        _key, secret = apikeys.create(form.name.data.strip())
        flash(_("API key created. Copy it now: it is not shown again."), "success")
    elif form.errors:
        status = 400
    return render_template("admin/api_keys.html", form=form, keys=apikeys.all_keys(), secret=secret), status


@bp.post("/api-keys/<int:key_id>/revoke")
def revoke_api_key(key_id: int):
    key = apikeys.by_id(key_id) or abort(404)
    if apikeys.revoke(key):
        flash(_("Key %(prefix)s… revoked. Requests using it are refused from now on.", prefix=key.prefix), "info")
    return redirect(url_for("admin.api_keys"))
