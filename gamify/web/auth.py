"""Sign up, log in, log out (Flask-Login sessions, Flask-WTF forms with CSRF)."""

from urllib.parse import urlparse

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from .. import i18n
from ..engine import calendar as cal
from ..extensions import db, login_manager
from ..services import users
from . import ui

_, _l = i18n.gettext, i18n.lazy_gettext

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    # No format check here: the account decides (e.g. admin@gamify.local is a valid login).
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class SignupForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=8, max=200)])
    timezone = SelectField(_l("Time zone"), validators=[DataRequired()])

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.timezone.choices = {t: t.replace("_", " ") for t in ["UTC"] + cal.all_timezones()}


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths; never redirect to another host after login."""
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@login_manager.unauthorized_handler
def _unauthorized():
    """Anonymous visitors go to the login page and come back afterwards (a relative `next`, which
    safe_next accepts). HTMX requests get HX-Redirect, so a login page is never swapped into a fragment."""
    target = request.full_path if request.query_string else request.path
    if ui.is_htmx():
        page = request.headers.get("HX-Current-URL", "")
        parsed = urlparse(page)
        back = safe_next(parsed.path + (f"?{parsed.query}" if parsed.query else "")) if page else None
        resp = make_response("", 401)
        resp.headers["HX-Redirect"] = url_for("auth.login", next=back or target)
        return resp
    if request.method == "GET":
        flash(_("Please log in to see that page."), "info")
        return redirect(url_for("auth.login", next=target))
    return redirect(url_for("auth.login"))


def home_for(user) -> str:
    return url_for("admin.index") if user.is_admin else url_for("player.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = users.by_email(form.email.data.strip().lower())
        if user is not None and user.check_password(form.password.data):
            login_user(user, remember=True)
            return redirect(safe_next(request.args.get("next")) or home_for(user))
        flash(_("Wrong email or password."), "error")
    return render_template("auth/login.html", form=form), (200 if request.method == "GET" or form.errors else 401)


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    form = SignupForm()
    if request.method == "GET" and not form.timezone.data:
        form.timezone.data = "UTC"
    if form.validate_on_submit():
        try:
            user = users.signup(form.email.data, form.password.data, form.display_name.data, form.timezone.data)
        except users.UserError as e:
            getattr(form, e.field, form.email).errors.append(str(e))
        else:
            # The account must be committed before its id goes into the session cookie.
            db.session.commit()
            login_user(user, remember=True)
            flash(_("Welcome to gamify!"), "success")
            return redirect(url_for("player.dashboard"))
    return render_template("auth/signup.html", form=form), (400 if form.errors else 200)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))
