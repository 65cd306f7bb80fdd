"""Player pages (login required): dashboard, streak calendar, achievements, points, settings and
notifications. Server-rendered; HTMX swaps partials (templates/player/_*.html) where it helps."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Optional

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from .. import i18n, params
from ..engine import calendar as cal
from ..models import User
from ..models._common import utcnow
from ..models.notifications import CHANNELS, NOTIFICATION_TYPES
from ..models.push import PUSH_TYPES
from ..services import achievements as achievements_svc
from ..services import notifications as notifications_svc
from ..services import outbox, points, streak_pauses, streaks, users, webpush
from . import ui
from .auth import safe_next

_, _l = i18n.gettext, i18n.lazy_gettext

bp = Blueprint("player", __name__)
bp.before_request(
    ui.control_gate(
        {"player.dashboard", "player.streak", "player.achievements", "player.points", "player.notifications"}
    )
)

AWARDS_PER_PAGE = 20
NOTIFICATIONS_PER_PAGE = 20
PANEL_SIZE = 8


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("admin.index") if current_user.is_admin else url_for("player.dashboard"))
    return redirect(url_for("auth.login"))


# ------------------------------------------------------------------------------------------ dashboard


def streak_view(summary: dict, tz: str, now: Optional[datetime] = None) -> dict:
    """The streak summary plus what the page prints: the deadline as the last minute of the period in
    the player's own zone ("11:59 PM"), the day word ("today", "tomorrow", "Sun, Jan 12"), in the
    player's language."""
    view = dict(summary)
    now = now or utcnow()
    view["tz"] = tz
    view["alive"] = bool(summary.get("length"))
    exp = summary.get("expires_utc")
    if not exp:
        return view
    expires = datetime.fromisoformat(exp)
    last_minute = ui.to_local(expires - timedelta(minutes=1), tz)
    today = cal.local_date(now, tz)
    d = last_minute.date()
    if d == today:
        day_word = _("today")
    elif d == today + timedelta(days=1):
        day_word = _("tomorrow")
    else:
        day_word = ui.fmt_day(d)
    view.update(
        expires_iso=expires.isoformat(),
        expires_time=ui.fmt_time(last_minute),
        expires_day=day_word,
        expires_date=d.isoformat(),
    )
    return view


@bp.get("/dashboard")
@login_required
def dashboard():
    user = ui.me()
    streak = streak_view(streaks.summary(user), user.timezone)
    pts = [points.summary(user, s) for s in points.all_systems()]
    energy_status = ui.optional_service("energy", "status", user)
    ranks = ui.optional_service("leaderboards", "my_ranks", user)
    recent = achievements_svc.recent_completions(user.id)
    html = render_template(
        "player/dashboard.html",
        streak=streak,
        points=pts,
        energy_status=energy_status,
        ranks=ranks,
        recent=recent,
        unread=ui.unread_notifications(),
    )
    return html


# ------------------------------------------------------------------------------------------ streak


OUTCOME_LABELS = {
    "extended": _l("Streak extended"),
    "paused": _l("Streak paused"),
    "frozen": _l("Protected by a freeze"),
    "broken": _l("Streak lost"),
    "none": _l("No streak activity"),
    "future": _l("Still to come"),
    "pending": _l("Not extended yet"),
}


def build_calendar(periods, today: date, months: int = 12, pauses=()) -> list[dict]:
    """Month blocks (Monday-first weeks) for the last `months` months, each day tagged with the outcome
    of the streak period that contains it (weekly/monthly periods colour all their days); the days of
    current and upcoming `pauses` (StreakPause rows) not closed yet are tagged paused, to the end of
    the current month."""
    first = ui.month_start_back(today, months - 1)
    last = cal.next_period_start("monthly", today) - timedelta(days=1)
    outcome: dict[date, tuple[str, int]] = {}
    for pause in pauses:
        for d in ui.days(max(pause.start_on, first), min(pause.end_on, last)):
            outcome[d] = ("paused", 0)
    for p in periods:  # oldest first, later rows win
        for d in ui.days(max(p.period_start, first), min(p.period_end, today)):
            outcome[d] = (p.outcome, p.length)
    out = []
    start = first
    for _month in range(months):
        nxt = cal.next_period_start("monthly", start)
        cells = [None] * start.weekday()
        for d in ui.days(start, nxt - timedelta(days=1)):
            if d > today:
                state, length = outcome.get(d, ("future", 0))
            else:
                state, length = outcome.get(d, ("pending" if d == today else "none", 0))
            label = _("%(day)s: %(outcome)s", day=ui.fmt_day(d, with_year=True), outcome=OUTCOME_LABELS[state])
            if state == "extended" and length > 0:
                label = _("%(label)s (streak day %(n)s)", label=label, n=ui.num(length))
            cells.append({"date": d, "state": state, "label": label, "today": d == today})
        while len(cells) % 7:
            cells.append(None)
        out.append({"title": ui.month_title(start), "short": ui.month_title(start, short=True), "cells": cells})
        start = nxt
    return out


@bp.get("/streak")
@login_required
def streak():
    user = ui.me()
    now = utcnow()
    summary = streak_view(streaks.summary(user, now), user.timezone, now)
    today = cal.local_date(now, user.timezone)
    first = ui.month_start_back(today, 11)
    periods = streaks.history(user.id, since=first - timedelta(days=31))
    pauses = streak_pauses.upcoming(user, now)
    months = build_calendar(periods, today, pauses=pauses)
    window = [p for p in periods if p.period_end >= first]
    counts = {k: sum(1 for p in window if p.outcome == k) for k in ("extended", "paused", "frozen", "broken")}
    config = streaks.get_config()
    html = render_template(
        "player/streak.html",
        streak=summary,
        months=months,
        counts=counts,
        config=config,
        today=today,
        pauses=pauses,
        recent=list(reversed(periods[-8:])),
    )
    return html


# ------------------------------------------------------------------------------------------ achievements


def _achievement_cards(user: User):
    done, achs, names = achievements_svc.shown_to_player(user.id)
    progress = achievements_svc.progress_for(user)
    earned, going, locked = [], [], []
    for a in achs:
        c = done.get(a.id)
        target = a.target
        value = progress.get(a.id)
        card = {
            "a": a,
            "completion": c,
            "new": bool(c and c.seen_at is None),
            "target": target,
            "value": value,
            "pct": 0.0,
            "unit": (a.metric.unit if a.trigger == "metric" and a.metric else ""),
            "prereqs": [names[p] for p in (a.prerequisite_ids or []) if p in names],
            "done_prereqs": {p for p in (a.prerequisite_ids or []) if p in done},
        }
        if target and value is not None:
            card["pct"] = max(0.0, min(100.0, 100.0 * value / target))
        if c:
            card["pct"] = 100.0
            earned.append(card)
        elif a.status == "locked":
            locked.append(card)
        elif a.status == "active":
            going.append(card)
    earned.sort(key=lambda c: c["completion"].completed_at, reverse=True)
    going.sort(key=lambda c: -c["pct"])
    return earned, going, locked


@bp.get("/achievements")
@login_required
def achievements():
    user = ui.me()
    earned, going, locked = _achievement_cards(user)
    html = render_template(
        "player/achievements.html", earned=earned, going=going, locked=locked, players=achievements_svc.player_count()
    )
    # Highlighted once: seen from now on.
    achievements_svc.mark_seen([c["completion"].id for c in earned if c["new"]])
    return html


# ------------------------------------------------------------------------------------------ points

SOURCE_LABELS = {
    "metric": _l("Activity"),
    "streak": _l("Streak bonus"),
    "streak_day": _l("Streak day"),
    "achievement": _l("Achievement bonus"),
    "time_interval": _l("Scheduled bonus"),
    "local_midnight": _l("Daily bonus"),
    "signup": _l("Welcome bonus"),
    "admin": _l("Adjustment"),
    "spend": _l("Spent"),
    "refill": _l("Refill"),
}


@bp.get("/points", endpoint="points")
@login_required
def points_page():
    user = ui.me()
    systems = points.all_systems()
    if not systems:
        return render_template("player/points.html", systems=[], system=None)
    key = request.args.get("system") or systems[0].key
    system = next((s for s in systems if s.key == key), None)
    if system is None:
        abort(404)
    page = params.page_arg(request.args)
    awards = points.awards_page(user.id, system.id, page, AWARDS_PER_PAGE)
    ctx = dict(
        systems=systems, system=system, summary=points.summary(user, system), awards=awards, labels=SOURCE_LABELS
    )
    if ui.is_htmx() and ui.hx_target() == "awards":
        return render_template("player/_awards.html", **ctx)
    return render_template("player/points.html", **ctx)


# ------------------------------------------------------------------------------------------ settings


class ProfileForm(FlaskForm):
    display_name = StringField(
        _l("Display name"),
        validators=[DataRequired(), Length(max=120)],
        description=_l("Shown to friends and on leaderboards."),
    )
    timezone = SelectField(
        _l("Time zone"),
        validators=[DataRequired()],
        description=_l("Your streak day ends at midnight in this time zone."),
    )
    # "": no choice of the player's own (their browser's language, else the default an admin set).
    locale = SelectField(
        _l("Language"),
        choices=[SelectChoice("", _l("Automatic (your browser's language)"))]
        + [SelectChoice(code, name) for code, name in i18n.LANGUAGES.items()],
        description=_l("Pages, e-mails and notifications use this language."),
        default="",
    )

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.timezone.choices = {"UTC": "UTC", **{t: t.replace("_", " ") for t in cal.all_timezones()}}

    def validate_timezone(self, field):
        try:
            cal.zone(field.data)
        except cal.InvalidTimezone as e:
            raise ValidationError(str(e)) from e


class PreferencesForm(FlaskForm):
    """One checkbox per notification type and channel: fields named '<type>__<channel>'."""

    @classmethod
    def field_name(cls, type_: str, channel: str) -> str:
        return f"{type_}__{channel}"


for _type, _label in NOTIFICATION_TYPES.items():
    for _channel in CHANNELS:
        _field = {
            "in_app": _l("%(type)s: in the app", type=_label),
            "email": _l("%(type)s: by email", type=_label),
            "push": _l("%(type)s: by push", type=_label),
        }[_channel]
        setattr(PreferencesForm, PreferencesForm.field_name(_type, _channel), BooleanField(_field))

CHANNEL_LABELS = {"in_app": _l("In the app"), "email": _l("Email"), "push": _l("Push")}


class TimezoneForm(FlaskForm):
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), Length(max=64)])


def _prefs_form(user: User, formdata=None) -> PreferencesForm:
    form = PreferencesForm(formdata=formdata)
    if formdata is None:
        for t in NOTIFICATION_TYPES:
            for ch in CHANNELS:
                getattr(form, PreferencesForm.field_name(t, ch)).data = outbox.channel_enabled(user.id, t, ch)
    return form


def _push_key() -> str:
    """The VAPID public key for the push control ('' hides it: push off, or no key could be made)."""
    if not webpush.enabled():
        return ""
    try:
        return webpush.public_key()
    except (OSError, ValueError, RuntimeError):
        current_app.logger.exception("no VAPID key: the push control is hidden")
        return ""


def _settings_page(profile: ProfileForm, prefs: PreferencesForm, status: int = 200):
    return render_template(
        "player/settings.html",
        form=profile,
        prefs=prefs,
        types=NOTIFICATION_TYPES,
        channels=CHANNELS,
        channel_labels=CHANNEL_LABELS,
        push_types=PUSH_TYPES,
        push_key=_push_key(),
        tz_unset=(ui.me().timezone or "UTC") == "UTC",
    ), status


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    user = ui.me()
    form = ProfileForm(obj=user) if request.method == "GET" else ProfileForm()
    if request.method == "GET":
        form.locale.data = user.locale or ""
    if form.validate_on_submit():
        changed_tz = form.timezone.data != user.timezone
        users.update_profile(user, form.display_name.data.strip(), form.timezone.data, form.locale.data or None)
        with i18n.force_locale(i18n.select_locale()):
            # Said in the language just chosen (the request began in the old one).
            message = _("Settings saved.")
            if changed_tz:
                message = _("Settings saved. Your days now follow %(tz)s.", tz=user.timezone)
        flash(message, "success")
        return redirect(url_for("player.settings"))
    return _settings_page(form, _prefs_form(user), 400 if form.errors else 200)


@bp.post("/settings/notifications")
@login_required
def save_preferences():
    user = ui.me()
    form = _prefs_form(user, formdata=request.form)
    if not form.validate_on_submit():  # only the CSRF token can fail (CSRFProtect answers 400 first)
        abort(400)
    changed = 0
    for t in NOTIFICATION_TYPES:
        for ch in CHANNELS:
            want = bool(getattr(form, PreferencesForm.field_name(t, ch)).data)
            if outbox.channel_enabled(user.id, t, ch) != want:
                outbox.set_preference(user.id, t, ch, want)
                changed += 1
    if ui.is_htmx():
        resp = make_response(
            render_template(
                "player/_prefs.html",
                prefs=_prefs_form(user),
                types=NOTIFICATION_TYPES,
                channels=CHANNELS,
                channel_labels=CHANNEL_LABELS,
                push_types=PUSH_TYPES,
                saved=True,
            )
        )
        return ui.toast(resp, _("Notification preferences saved."))
    flash(_("Notification preferences saved."), "success")
    return redirect(url_for("player.settings") + "#notifications")


@bp.post("/settings/timezone")
@login_required
def set_timezone():
    """One-click "use my browser's time zone" from the dashboard banner."""
    user = ui.me()
    form = TimezoneForm()
    tz = (form.timezone.data or "").strip() if form.validate_on_submit() else ""
    try:
        cal.zone(tz)
    except cal.InvalidTimezone as e:
        if ui.is_htmx():
            return ui.toast(make_response("", 422), str(e), kind="error")
        flash(str(e), "error")
        return redirect(url_for("player.settings"))
    users.set_timezone(user, tz)
    if ui.is_htmx():
        resp = make_response("")
        resp.headers["HX-Refresh"] = "true"
        return resp
    flash(_("Time zone set to %(tz)s.", tz=tz), "success")
    return redirect(url_for("player.dashboard"))


# ------------------------------------------------------------------------------------------ notifications


def _bell_response(extra_html: str = "", status: int = 200):
    html = extra_html + render_template("player/_bell.html", oob=bool(extra_html))
    return make_response(html, status)


@bp.get("/notifications")
@login_required
def notifications():
    user = ui.me()
    if ui.is_htmx() and request.args.get("panel"):
        items = notifications_svc.latest(user.id, PANEL_SIZE)
        return render_template("player/_notifications_panel.html", items=items, unread=ui.unread_notifications())
    items = notifications_svc.page(user.id, params.page_arg(request.args), NOTIFICATIONS_PER_PAGE)
    return render_template("player/notifications.html", items=items, unread=ui.unread_notifications())


@bp.get("/notifications/count")
@login_required
def notifications_count():
    if request.args.get("format") == "json":
        return jsonify(unread=ui.unread_notifications())
    return render_template("player/_bell.html")


@bp.post("/notifications/read-all")
@login_required
def notifications_read_all():
    user = ui.me()
    n = notifications_svc.mark_all_read(user.id)
    if ui.is_htmx():
        if request.form.get("view") == "panel":
            items = notifications_svc.latest(user.id, PANEL_SIZE)
            body = render_template("player/_notifications_panel.html", items=items, unread=0)
        else:
            items = notifications_svc.page(user.id, 1, NOTIFICATIONS_PER_PAGE)
            body = render_template("player/_notifications_list.html", items=items, unread=0)
        return ui.toast(
            _bell_response(body),
            i18n.ngettext("Marked %(num)d notification as read.", "Marked %(num)d notifications as read.", n)
            if n
            else _("Everything was already read."),
            kind="info",
        )
    flash(_("All notifications marked as read.") if n else _("Everything was already read."), "success")
    return redirect(url_for("player.notifications"))


@bp.get("/notifications/<int:nid>")
@login_required
def open_notification(nid: int):
    """Mark one notification read and follow its link (same-site paths only)."""
    n = notifications_svc.open_one(current_user.id, nid)
    if n is None:
        abort(404)
    return redirect(safe_next(n.link) or url_for("player.notifications"))
