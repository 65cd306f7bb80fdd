"""Admin: notification templates. Every type's e-mail (subject, text, HTML) and push (title, body), for
everyone or scoped to players with an attribute value; a live preview against a chosen player (HTMX
POST, CSRF header from base.html; without JavaScript the Preview button reloads the page with it) and
"send me a test" to the admin's own address. The rules (sandbox, scope, checks) are the service's:
services/notification_templates.py; a refused template is a 400 with the error on its field."""

from __future__ import annotations

from typing import Optional

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Length

from .. import after_commit, i18n, mail
from ..i18n import _, _l
from ..models.messaging import NotificationTemplate
from ..models.notifications import NOTIFICATION_TYPES
from ..services import notification_preview, users
from ..services import notification_templates as t
from ..services.attributes import all_attributes
from ..services.config_rules import ConfigError
from ..web import ui
from .base import admin_blueprint, admin_tag

bp = admin_blueprint("admin_templates", __name__)


class TemplateForm(FlaskForm):
    scope_attribute = StringField(
        _l("Only for players whose attribute"),
        validators=[Length(max=64)],
        description=_l("An attribute the host app sends with its players, e.g. plan."),
    )
    scope_value = StringField(_l("has the value"), validators=[Length(max=255)], description=_l("e.g. pro"))
    subject = TextAreaField(_l("Subject"))
    text = TextAreaField(_l("Text"))
    html = TextAreaField("HTML")
    active = BooleanField(_l("Active"), default=True)
    preview_as = StringField(
        _l("Preview as player"),
        validators=[Length(max=255)],
        description=_l("E-mail or the host app's id; empty: a sample player."),
    )


def _kind_channel(kind: str, channel: str) -> str:
    """The version's language (?lang=, English by default); 404 for an unknown type, channel or language."""
    locale = request.args.get("lang") or i18n.FALLBACK
    if kind not in t.TYPES or channel not in t.CHANNELS or not i18n.valid(locale):
        abort(404)
    return locale


def _lang(locale: str) -> Optional[str]:
    """The ?lang= of a version's URLs: none for English, so its URLs stay as they were."""
    return None if locale == i18n.FALLBACK else locale


def _form(
    kind: str, channel: str, row: Optional[NotificationTemplate], scoped: bool = False, locale: str = i18n.FALLBACK
) -> TemplateForm:
    """The form, filled from the request (a POST) or from the template (row, else the shipped one)."""
    if request.method == "POST":
        form = TemplateForm()
    else:
        src = t.source_of(row) if row is not None else t.default_source(kind, channel, locale)
        form = TemplateForm(
            formdata=None,
            subject=src.subject,
            text=src.text,
            html=src.html,
            active=src.active,
            scope_attribute=src.scope_attribute,
            scope_value=src.scope_value,
        )
    for name, label in t.FIELDS[channel].items():
        getattr(form, name).label.text = label
    form.active.label.text = (
        _("Active: players with this attribute value get this template")
        if scoped
        else _("Active: players no scoped template matches get this one (off: they get none of this type)")
    )
    return form


def _page(kind, channel, form, row=None, scoped=False, preview=None, status=200, locale=i18n.FALLBACK):
    if row is not None:
        locale = row.locale
        save_url = url_for("admin_templates.edit", template_id=row.id)
    elif scoped:
        save_url = url_for("admin_templates.new_scoped", kind=kind, channel=channel, lang=_lang(locale))
    else:
        save_url = url_for("admin_templates.edit_default", kind=kind, channel=channel, lang=_lang(locale))
    return render_template(
        "admin/templates/edit.html",
        save_url=save_url,
        kind=kind,
        channel=channel,
        form=form,
        row=row,
        scoped=scoped,
        preview=preview,
        locale=locale,
        languages=i18n.LANGUAGES,
        kinds=t.TYPES,
        channels=t.CHANNELS,
        fields=t.FIELDS[channel],
        variables=[(n, d) for n, d, only in t.VARIABLES if only is None or kind in only],
        attributes=[a.key for a in all_attributes()],
    ), status


# ---------------------------------------------------------------------------------------------
# List


@bp.get("/")
def index():
    rows: dict[tuple[str, str, str], list[NotificationTemplate]] = {}
    for row in t.all_templates():
        rows.setdefault((row.type, row.channel, row.locale), []).append(row)
    return render_template(
        "admin/templates/index.html", kinds=t.TYPES, channels=t.CHANNELS, rows=rows, languages=i18n.LANGUAGES
    )


# ---------------------------------------------------------------------------------------------
# Edit


def _save(kind: str, channel: str, row: Optional[NotificationTemplate], scoped: bool, locale: str):
    form = _form(kind, channel, row, scoped, locale)
    if form.validate_on_submit():
        try:
            saved = t.save(
                kind,
                channel,
                subject=form.subject.data or "",
                text=form.text.data or "",
                html=form.html.data or "",
                scope_attribute=form.scope_attribute.data if scoped else "",
                scope_value=form.scope_value.data if scoped else "",
                active=form.active.data,
                locale=locale,
                row=row,
                by=admin_tag(),
            )
        except ConfigError as e:
            getattr(form, e.field).errors.append(str(e))
        else:
            flash(
                _("%(type)s (%(channel)s) template saved.", type=t.TYPES[kind], channel=t.CHANNELS[channel].lower()),
                "success",
            )
            if saved.scope_attribute:
                return redirect(url_for("admin_templates.edit", template_id=saved.id))
            return redirect(
                url_for("admin_templates.edit_default", kind=kind, channel=channel, lang=_lang(saved.locale))
            )
    return _page(kind, channel, form, row, scoped, status=400, locale=locale)


def _unscoped(kind: str, channel: str, locale: str) -> Optional[NotificationTemplate]:
    return next((r for r in t.templates_of(kind, channel, locale) if not r.scope_attribute), None)


@bp.route("/<kind>/<channel>", methods=["GET", "POST"])
def edit_default(kind: str, channel: str):
    """The type's template for everyone in one language (the shipped one until an admin saves theirs)."""
    locale = _kind_channel(kind, channel)
    row = _unscoped(kind, channel, locale)
    if request.method == "POST":
        return _save(kind, channel, row, scoped=False, locale=locale)
    return _page(kind, channel, _form(kind, channel, row, locale=locale), row, locale=locale)


@bp.route("/<kind>/<channel>/new", methods=["GET", "POST"])
def new_scoped(kind: str, channel: str):
    """A version for players with an attribute value, starting from the one everyone gets."""
    locale = _kind_channel(kind, channel)
    if request.method == "POST":
        return _save(kind, channel, None, scoped=True, locale=locale)
    form = _form(kind, channel, _unscoped(kind, channel, locale), scoped=True, locale=locale)
    form.scope_attribute.data, form.scope_value.data, form.active.data = "", "", True
    return _page(kind, channel, form, None, scoped=True, locale=locale)


@bp.route("/<int:template_id>", methods=["GET", "POST"])
def edit(template_id: int):
    row = t.find(template_id) or abort(404)
    if request.method == "POST":
        return _save(row.type, row.channel, row, scoped=bool(row.scope_attribute), locale=row.locale)
    scoped = bool(row.scope_attribute)
    return _page(row.type, row.channel, _form(row.type, row.channel, row, scoped), row, scoped=scoped)


@bp.post("/<int:template_id>/delete")
def delete(template_id: int):
    row = t.find(template_id) or abort(404)
    kind, channel, scoped, locale = row.type, row.channel, bool(row.scope_attribute), row.locale
    t.delete(row)
    flash(
        _("Scoped template deleted.") if scoped else _("Back to the shipped template."),
        "success",
    )
    return redirect(url_for("admin_templates.edit_default", kind=kind, channel=channel, lang=_lang(locale)))


# ---------------------------------------------------------------------------------------------
# Preview and test


def _draft(kind: str, channel: str, form: TemplateForm, locale: str) -> t.Source:
    html = (form.html.data or "") if channel == "email" else ""
    return t.Source(kind, channel, form.subject.data or "", form.text.data or "", html, locale=locale)


def _render_preview(kind: str, channel: str, form: TemplateForm, locale: str) -> dict:
    """{rendered, frame, player, errors, notes}: the draft rendered for the chosen player (or a sample),
    in the version's language, with what would keep this version from reaching them now."""
    out = {"rendered": None, "frame": "", "player": None, "errors": [], "notes": []}
    who = (form.preview_as.data or "").strip()
    player = None
    if who:
        player = users.by_email_or_external_id(who)
        if player is None or player.role != "player":
            out["errors"].append((form.preview_as.label.text, _("No player with that e-mail or id.")))
            return out
    out["player"] = player
    draft = _draft(kind, channel, form, locale)
    try:
        for field in t.FIELDS[channel]:
            if len(getattr(draft, field)) > t.SOURCE_LIMITS[field]:
                raise ConfigError(field, _("At most %(n)s characters.", n=i18n.num(t.SOURCE_LIMITS[field])))
        ctx = notification_preview.context_for(kind, player, locale=locale)
        rendered = t.render_source(draft, ctx)
    except ConfigError as e:
        out["errors"].append((t.FIELDS[channel][e.field], str(e)))
        return out
    out["rendered"] = rendered
    if player is not None:
        out["notes"] = _notes(kind, channel, form, player, ctx, locale)
    if channel == "email":
        label = NOTIFICATION_TYPES.get(kind, kind)
        with i18n.force_locale(locale):
            frame = mail.build_notification("preview@example.invalid", rendered, label).get_body(("html",))
        out["frame"] = frame.get_content()
    return out


def _notes(kind: str, channel: str, form: TemplateForm, player, ctx: dict, locale: str) -> list[str]:
    """Why the chosen player would not get this version now (another language, another template, none,
    not at risk)."""
    notes = []
    theirs = i18n.locale_of(player)
    if theirs != locale:
        language = i18n.LANGUAGES[theirs]
        notes.append(
            _(
                "%(name)s reads %(language)s: they get the %(language)s version, not this one.",
                name=player.name,
                language=language,
            )
        )
    attribute, value = (form.scope_attribute.data or "").strip(), (form.scope_value.data or "").strip()
    if attribute:  # a scoped version (only its form has the scope fields)
        if not t.scope_matches(NotificationTemplate(scope_attribute=attribute, scope_value=value), player.attributes):
            notes.append(
                _(
                    "%(name)s does not have %(attribute)s = %(value)s: they would not get this version.",
                    name=player.name,
                    attribute=attribute,
                    value=value,
                )
            )
    else:
        try:
            picked = t.pick(kind, channel, player)
        except t.NoTemplate:
            notes.append(
                _("%(name)s would get none: this type's template for everyone is switched off.", name=player.name)
            )
        else:
            if picked.scope_attribute:
                notes.append(
                    _(
                        "%(name)s gets the version for %(attribute)s = %(value)s instead.",
                        name=player.name,
                        attribute=picked.scope_attribute,
                        value=picked.scope_value,
                    )
                )
    if kind == "streak_reminder" and not ctx["streak"]["at_risk"]:
        notes.append(
            _("No reminder would go to %(name)s now: their streak is not at risk this period.", name=player.name)
        )
    return notes


@bp.post("/<kind>/<channel>/preview")
def preview(kind: str, channel: str):
    locale = _kind_channel(kind, channel)
    form = _form(kind, channel, None)
    row = t.find(request.args.get("id", type=int) or 0)
    locale = row.locale if row is not None else locale
    result = _render_preview(kind, channel, form, locale)
    if ui.is_htmx():
        return render_template("admin/templates/_preview.html", channel=channel, fields=t.FIELDS[channel], **result)
    scoped = bool(row and row.scope_attribute) or request.args.get("scoped") == "1"
    return _page(kind, channel, form, row, scoped=scoped, preview=result, locale=locale)


@bp.post("/<kind>/<channel>/test")
def send_test(kind: str, channel: str):
    """The draft, rendered for the chosen player (or a sample), to the admin's own address."""
    locale = _kind_channel(kind, channel)
    if channel != "email":
        abort(404)
    form = _form(kind, channel, None)
    row = t.find(request.args.get("id", type=int) or 0)
    locale = row.locale if row is not None else locale
    result = _render_preview(kind, channel, form, locale)
    to = current_user.email
    if result["errors"]:
        message, ok = _("Not sent: %(errors)s", errors="; ".join(f"{f}: {m}" for f, m in result["errors"])), False
    elif not to:
        message, ok = _("Not sent: your admin account has no e-mail address."), False
    else:
        r = result["rendered"]
        with i18n.force_locale(locale):
            label = _("%(type)s (test)", type=NOTIFICATION_TYPES.get(kind, kind))
        after_commit.request("email.test", to, f"[Test] {r.subject}", r.text, r.html, label, locale)
        message, ok = _("Test e-mail on its way to %(to)s.", to=to), True
    if ui.is_htmx():  # the answer is a toast; the editor stays as it is
        return ui.toast(make_response("", 200 if ok else 422), message, kind="success" if ok else "error")
    scoped = bool(row and row.scope_attribute) or request.args.get("scoped") == "1"
    flash(message, "success" if ok else "error")
    return _page(kind, channel, form, row, scoped=scoped, status=200 if ok else 400, locale=locale)
