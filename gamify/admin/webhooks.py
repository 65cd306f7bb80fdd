"""Admin: webhook endpoints, their secrets and delivery logs, test events and redelivery."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from rq.exceptions import NoSuchJobError
from rq.job import Job
from wtforms import BooleanField, SelectChoice, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length

from .. import jobs, params
from ..extensions import db
from ..models.webhooks import WEBHOOK_EVENT_TYPES, WebhookDelivery, WebhookEndpoint
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
        "URL",
        validators=[DataRequired(), Length(max=500)],
        render_kw={"placeholder": "https://example.com/hooks/gamify", "inputmode": "url"},
    )
    description = StringField("Description", validators=[Length(max=200)])
    event_types = MultiCheckboxField(
        "Events", choices=[SelectChoice(k, f"{k} · {v}") for k, v in WEBHOOK_EVENT_TYPES.items()]
    )
    active = BooleanField("Active", default=True)


class AddressesForm(FlaskForm):
    allow_private = BooleanField(
        "Allow endpoints on private networks",
        description="Loopback (127.0.0.1), private (10.x, 192.168.x), link-local and "
        "other non-public addresses. Leave off unless a receiver runs on "
        "your own network: anyone who can add an endpoint could otherwise "
        "make this server call internal services.",
    )


def _save(form: EndpointForm, ep=None):
    """Create or update from the form; returns (endpoint, secret shown once on creation) or None on errors."""
    try:
        if ep is None:
            ep = webhooks.create_endpoint(form.url.data, form.event_types.data, form.description.data, form.active.data)
            return ep
        webhooks.update_endpoint(ep, form.url.data, form.event_types.data, form.description.data, form.active.data)
        return ep
    except webhooks.WebhookError as e:
        db.session.rollback()
        getattr(form, e.field).errors.append(str(e))
        return None


def _stats() -> dict:
    rows = db.session.execute(
        db.select(WebhookDelivery.endpoint_id, WebhookDelivery.status, db.func.count(WebhookDelivery.id)).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.status
        )
    ).all()
    out: dict = {}
    for endpoint_id, status, n in rows:
        out.setdefault(endpoint_id, {})[status] = n
    return out


@bp.route("/", methods=["GET", "POST"])
def index():
    form = EndpointForm()
    if request.method == "GET":
        form.active.data = True
    if form.validate_on_submit():
        ep = _save(form)
        if ep is not None:
            db.session.commit()
            flash(
                "Endpoint added. Its signing secret is shown below; the receiver needs it to verify "
                "X-Gamify-Signature.",
                "success",
            )
            return redirect(url_for("admin_webhooks.endpoint", endpoint_id=ep.id, created=1))
    endpoints = db.session.execute(db.select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars().all()
    recent = (
        db.session.execute(db.select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(20)).scalars().all()
    )
    addresses = AddressesForm(formdata=None, allow_private=reminders.get_settings().webhooks_allow_private)
    return render_template(
        "admin/webhooks/index.html",
        form=form,
        endpoints=endpoints,
        stats=_stats(),
        recent=recent,
        event_types=WEBHOOK_EVENT_TYPES,
        addresses=addresses,
        operator_allows=bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE")),
    ), (400 if form.errors else 200)


@bp.post("/addresses")
def addresses():
    form = AddressesForm()
    if form.validate_on_submit():
        reminders.update_settings(webhooks_allow_private=form.allow_private.data)
        db.session.commit()
        flash("Private addresses are now " + ("allowed." if form.allow_private.data else "refused."), "success")
    return redirect(url_for("admin_webhooks.index"))


@bp.route("/<int:endpoint_id>", methods=["GET", "POST"])
def endpoint(endpoint_id: int):
    ep = db.get_or_404(WebhookEndpoint, endpoint_id)
    form = EndpointForm(obj=ep)
    if form.validate_on_submit():
        if _save(form, ep) is not None:
            db.session.commit()
            flash("Endpoint saved.", "success")
            return redirect(url_for("admin_webhooks.endpoint", endpoint_id=ep.id))
    status = request.args.get("status") or None
    page = params.page_arg(request.args)
    q = db.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == ep.id)
    if status:
        q = q.where(WebhookDelivery.status == status)
    deliveries = (
        db.session.execute(q.order_by(WebhookDelivery.id.desc()).offset((page - 1) * PAGE).limit(PAGE + 1))
        .scalars()
        .all()
    )
    return render_template(
        "admin/webhooks/endpoint.html",
        ep=ep,
        form=form,
        deliveries=deliveries[:PAGE],
        more=len(deliveries) > PAGE,
        page=page,
        status=status,
        stats=_stats().get(ep.id, {}),
        created=bool(request.args.get("created")),
    ), (400 if form.errors else 200)


@bp.post("/<int:endpoint_id>/test")
def send_test(endpoint_id: int):
    ep = db.get_or_404(WebhookEndpoint, endpoint_id)
    d = webhooks.create_test_delivery(ep)
    db.session.commit()
    if jobs.enqueue_webhook_delivery(d.id):
        flash(f"Test event queued (delivery #{d.id}). Refresh to see the result.", "info")
    else:
        flash(
            f"Test delivery #{d.id} saved, but the job queue (Redis) is not reachable: it will be sent when "
            "it is back.",
            "error",
        )
    return redirect(url_for("admin_webhooks.endpoint", endpoint_id=ep.id))


@bp.post("/<int:endpoint_id>/rotate")
def rotate(endpoint_id: int):
    ep = db.get_or_404(WebhookEndpoint, endpoint_id)
    webhooks.rotate_secret(ep)
    db.session.commit()
    flash(
        "New signing secret generated. Update the receiver: deliveries are signed with the new secret from now on.",
        "success",
    )
    return redirect(url_for("admin_webhooks.endpoint", endpoint_id=ep.id, created=1))


@bp.post("/<int:endpoint_id>/delete")
def delete(endpoint_id: int):
    ep = db.get_or_404(WebhookEndpoint, endpoint_id)
    db.session.execute(db.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == ep.id))
    db.session.delete(ep)
    db.session.commit()
    flash("Endpoint and its delivery log deleted.", "info")
    return redirect(url_for("admin_webhooks.index"))


@bp.post("/deliveries/<int:delivery_id>/redeliver")
def redeliver(delivery_id: int):
    d = db.get_or_404(WebhookDelivery, delivery_id)
    if d.endpoint is None:
        abort(404)

    try:
        try:
            Job.fetch(f"gamify-webhook-{d.id}", connection=get_redis()).delete()
        except NoSuchJobError:
            pass
        d.status = "pending"
        db.session.commit()
        ok = jobs.enqueue_webhook_delivery(d.id)
    except Exception:  # noqa: BLE001 - Redis down
        db.session.rollback()
        ok = False
    flash(
        f"Delivery #{d.id} queued again." if ok else "The job queue (Redis) is not reachable; try again later.",
        "info" if ok else "error",
    )
    return redirect(request.form.get("next") or url_for("admin_webhooks.endpoint", endpoint_id=d.endpoint_id))
