"""Admin: webhook endpoints, their secrets and delivery logs, test events and redelivery."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from rq.exceptions import NoSuchJobError
from rq.job import Job
from wtforms import BooleanField, SelectChoice, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length

from .. import jobs, params
from ..extensions import db
from ..i18n import _, _l
from ..models.webhooks import WEBHOOK_EVENT_TYPES
from ..queue import get_redis
from ..services import reminders, webhooks
from .base import admin_blueprint

bp = admin_blueprint("admin_webhooks", __name__)

PAGE = 50


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class EndpointForm(FlaskForm):
    url = StringField(
        _l("URL"),
        validators=[DataRequired(), Length(max=500)],
        render_kw={"placeholder": "https://example.com/hooks/gamify", "inputmode": "url"},
    )
    description = StringField(_l("Description"), validators=[Length(max=200)])
    event_types = MultiCheckboxField(
        _l("Events"), choices=[SelectChoice(k, f"{k} · {v}") for k, v in WEBHOOK_EVENT_TYPES.items()]
    )
    active = BooleanField(_l("Active"), default=True)


class AddressesForm(FlaskForm):
    allow_private = BooleanField(
        _l("Allow endpoints on private networks"),
        description=_l(
            "Loopback (127.0.0.1), private (10.x, 192.168.x), link-local and "
            "other non-public addresses. Leave off unless a receiver runs on "
            "your own network: anyone who can add an endpoint could otherwise "
            "make this server call internal services."
        ),
    )


def _save(form: EndpointForm, ep=None):
    """Create or update from the form; returns the endpoint, or None when the form's input is refused."""
    try:
        if ep is None:
            return webhooks.create_endpoint(
                form.url.data, form.event_types.data, form.description.data, form.active.data
            )
        webhooks.update_endpoint(ep, form.url.data, form.event_types.data, form.description.data, form.active.data)
        return ep
    except webhooks.WebhookError as e:
        getattr(form, e.field).errors.append(str(e))
        return None


@bp.route("/", methods=["GET", "POST"])
def index():
    form = EndpointForm()
    if request.method == "GET":
        form.active.data = True
    if form.validate_on_submit():
        ep = _save(form)
        if ep is not None:
            flash(
                _(
                    "Endpoint added. Its signing secret is shown below; the receiver needs it to verify "
                    "X-Gamify-Signature."
                ),
                "success",
            )
            return redirect(url_for("admin_webhooks.endpoint", endpoint_id=ep.id, created=1))
    addresses = AddressesForm(formdata=None, allow_private=reminders.get_settings().webhooks_allow_private)
    return render_template(
        "admin/webhooks/index.html",
        form=form,
        endpoints=webhooks.all_endpoints(),
        stats=webhooks.delivery_counts(),
        recent=webhooks.recent_deliveries(),
        event_types=WEBHOOK_EVENT_TYPES,
        addresses=addresses,
        operator_allows=bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE")),
    ), (400 if form.errors else 200)


@bp.post("/addresses")
def addresses():
    form = AddressesForm()
    if form.validate_on_submit():
        reminders.update_settings(webhooks_allow_private=form.allow_private.data)
        flash(
            _("Private addresses are now allowed.")
            if form.allow_private.data
            else _("Private addresses are now refused."),
            "success",
        )
    return redirect(url_for("admin_webhooks.index"))


def _endpoint_or_404(endpoint_id: int):
    return webhooks.find_endpoint(endpoint_id) or abort(404)


@bp.route("/<int:endpoint_id>", methods=["GET", "POST"])
def endpoint(endpoint_id: int):
    ep = _endpoint_or_404(endpoint_id)
    form = EndpointForm(obj=ep)
    if form.validate_on_submit():
        if _save(form, ep) is not None:
            flash(_("Endpoint saved."), "success")
            return redirect(url_for("admin_webhooks.endpoint", endpoint_id=ep.id))
    status = request.args.get("status") or None
    page = params.page_arg(request.args)
    deliveries, more = webhooks.endpoint_deliveries(ep, status, page, PAGE)
    return render_template(
        "admin/webhooks/endpoint.html",
        ep=ep,
        form=form,
        deliveries=deliveries,
        more=more,
        page=page,
        status=status,
        stats=webhooks.delivery_counts().get(ep.id, {}),
        created=bool(request.args.get("created")),
    ), (400 if form.errors else 200)


@bp.post("/<int:endpoint_id>/test")
def send_test(endpoint_id: int):
    ep = _endpoint_or_404(endpoint_id)
    d = webhooks.create_test_delivery(ep)
    db.session.commit()  # the job may run before this request ends: it must find the delivery
    if jobs.enqueue_webhook_delivery(d.id):
        flash(_("Test event queued (delivery #%(id)s). Refresh to see the result.", id=d.id), "info")
    else:
        flash(
            _(
                "Test delivery #%(id)s saved, but the job queue (Redis) is not reachable: it will be sent when "
                "it is back.",
                id=d.id,
            ),
            "error",
        )
    return redirect(url_for("admin_webhooks.endpoint", endpoint_id=ep.id))


@bp.post("/<int:endpoint_id>/rotate")
def rotate(endpoint_id: int):
    webhooks.rotate_secret(_endpoint_or_404(endpoint_id))
    flash(
        _("New signing secret generated. Update the receiver: deliveries are signed with the new secret from now on."),
        "success",
    )
    return redirect(url_for("admin_webhooks.endpoint", endpoint_id=endpoint_id, created=1))


@bp.post("/<int:endpoint_id>/delete")
def delete(endpoint_id: int):
    webhooks.delete_endpoint(_endpoint_or_404(endpoint_id))
    flash(_("Endpoint and its delivery log deleted."), "info")
    return redirect(url_for("admin_webhooks.index"))


@bp.post("/deliveries/<int:delivery_id>/redeliver")
def redeliver(delivery_id: int):
    d = webhooks.find_delivery(delivery_id)
    if d is None or d.endpoint is None:
        abort(404)

    try:
        try:
            Job.fetch(f"gamify-webhook-{d.id}", connection=get_redis()).delete()
        except NoSuchJobError:
            pass
        webhooks.mark_for_redelivery(d)
        db.session.commit()  # the job may run before this request ends: it must see the delivery pending
        ok = jobs.enqueue_webhook_delivery(d.id)
    except Exception:  # noqa: BLE001 - Redis down
        db.session.rollback()
        ok = False
    flash(
        _("Delivery #%(id)s queued again.", id=d.id)
        if ok
        else _("The job queue (Redis) is not reachable; try again later."),
        "info" if ok else "error",
    )
    return redirect(request.form.get("next") or url_for("admin_webhooks.endpoint", endpoint_id=d.endpoint_id))
