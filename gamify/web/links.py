"""Links from e-mails: deep links that log a player into one page, and one-click unsubscribe.

GET /l/<purpose>/<token>   logs the player in (players only, never an admin) and redirects to the page;
                           once: a link used before lands on the login page (then on the page). The first
                           click on a message's link is recorded first, whatever happens next.
GET /unsubscribe/<token>   confirmation page (mail scanners that follow links change nothing)
POST /unsubscribe/<token>  unsubscribes (RFC 8058 one-click: no login, no CSRF token)
Bad links get a friendly page: 400 (tampered / not usable) or 410 (expired), with a login button.
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from .. import i18n, links
from ..extensions import csrf, db
from ..models import User
from ..models.notifications import NOTIFICATION_TYPES
from ..models.users import ROLE_PLAYER
from ..services import deliveries, outbox, users

bp = Blueprint("links", __name__)
_ = i18n.gettext


def _invalid(err: links.LinkError):
    return render_template("links/invalid.html", message=err.message, expired=err.status == 410), err.status


def _link_owner(user_id: int) -> User:
    user = users.by_id(user_id)
    if user is None:
        raise links.LinkError(400, _("This link belongs to an account that no longer exists."))
    return user


def _player_from_login_link(purpose: str, token: str) -> tuple[links.LoginClaim, User]:
    claim = links.read_login_token(token, purpose)
    user = _link_owner(claim.user_id)
    if user.role != ROLE_PLAYER or user.is_admin:
        raise links.LinkError(
            400, _("This kind of link cannot sign in to this account. Please log in with your password.")
        )
    return claim, user


@bp.route("/l/<purpose>/<token>", methods=["GET", "POST"])
def open(purpose: str, token: str):  # noqa: A001 - the route's name
    try:
        claim, user = _player_from_login_link(purpose, token)
    except links.LinkError as e:
        return _invalid(e)
    if claim.delivery and deliveries.record_click(claim.delivery, user.id):
        # The click counts before anything else can fail (a link used before, a refused sign-in).
        db.session.commit()
    target = links.target_for(purpose)
    if current_user.is_authenticated and current_user.id == user.id:
        return redirect(target)  # already signed in as this player: nothing to use up
    if current_user.is_authenticated and request.method == "GET":
        # Someone else is signed in in this browser: ask before switching accounts (POST has CSRF).
        return render_template("links/switch.html", user=user, target=target)
    try:
        links.use_login_nonce(claim)
        # The link is used up for good before it signs anyone in.
        db.session.commit()
    except links.LinkUsed as e:
        db.session.rollback()
        flash(str(e.message), "info")
        return redirect(url_for("auth.login", next=target))
    if current_user.is_authenticated:
        logout_user()
    login_user(user, remember=False)
    return redirect(target)


def _unsubscribe_claim(token: str):
    claim = links.read_unsubscribe_token(token)
    return claim, _link_owner(claim.user_id)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    try:
        claim, user = _unsubscribe_claim(token)
    except links.LinkError as e:
        return _invalid(e)
    label = NOTIFICATION_TYPES.get(claim.type, claim.type)
    # The page a player reaches from an e-mail speaks the e-mail's language (no one is logged in here).
    with i18n.force_locale(i18n.locale_of(user)):
        if request.method == "GET":
            enabled = outbox.channel_enabled(user.id, claim.type, "email")
            return render_template("links/unsubscribe.html", user=user, label=label, token=token, enabled=enabled)
        resubscribe = request.form.get("action") == "resubscribe"
        outbox.set_preference(user.id, claim.type, "email", resubscribe)
        return render_template("links/unsubscribed.html", user=user, label=label, token=token, resubscribed=resubscribe)
