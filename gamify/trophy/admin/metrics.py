"""Trophy's admin metrics and batch events (services/metrics.py, the event pipeline).

    GET    /trophy/admin/v1/metrics?limit=&skip=     list (by id)
    POST   /trophy/admin/v1/metrics                  create up to 100: 201 (200 when none was)
    PATCH  /trophy/admin/v1/metrics                  update name and units (a key never changes here)
    DELETE /trophy/admin/v1/metrics?ids=             delete the unused ones (issues name what uses the others)
    GET    /trophy/admin/v1/metrics/{id}             one
    POST   /trophy/admin/v1/metrics/events           up to 1,000 events on the batch path: 202 {"accepted": n}

gamify's metrics are numbers with a unit label: `unitType` is always `number` (`currency` is refused as an
issue), `units` is the label.
"""

from __future__ import annotations

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from ...extensions import db
from ...models import Metric
from ...services import events, metrics, users
from ..base import TrophyError, _message, answer, not_found
from ..users import apply_extras
from . import schemas as s
from .base import Issues, array, attempt, bp, created, ids_arg, items, listed, page, paging, require_admin_key
from .base import row as by_id

NO_CURRENCY = "gamify metrics have no currency unit type: use unitType 'number' with the currency as units"


def metric_out(m: Metric) -> s.MetricOut:
    return s.MetricOut(id=str(m.id), name=m.name, key=m.key, unit_type="number", units=m.unit or "")


@bp.get("/metrics")
@require_admin_key
def list_metrics():
    limit, skip = paging()
    return answer([metric_out(m) for m in page(db.select(Metric).order_by(Metric.id), limit, skip)])


@bp.get("/metrics/<metric_id>")
@require_admin_key
def get_metric(metric_id: str):
    metric = by_id(Metric, metric_id)
    if metric is None:
        raise not_found("metric", metric_id)
    return answer(metric_out(metric))


@bp.post("/metrics")
@require_admin_key
def create_metrics():
    issues, done = Issues(), []
    for i, data in items(s.MetricCreateIn):
        if isinstance(data, str):
            issues.add(data, index=i)
        elif data.unit_type == "currency":
            issues.add(NO_CURRENCY, index=i)
        else:
            m = attempt(
                issues,
                lambda d=data: metrics.save(None, key=d.key, name=d.name, unit=d.units or "", allow_negative=False),
                index=i,
            )
            if m is not None:
                done.append(metric_out(m))
    return created("created", done, issues)


@bp.patch("/metrics")
@require_admin_key
def update_metrics():
    issues, done = Issues(), []
    for i, data in items(s.MetricUpdateIn):
        if isinstance(data, str):
            issues.add(data, index=i)
            continue
        metric = by_id(Metric, data.id)
        if metric is None:
            issues.add(f"metric '{data.id}' not found", id=data.id)
        elif data.unit_type == "currency":
            issues.add(NO_CURRENCY, id=data.id)
        else:
            saved = attempt(
                issues,
                lambda m=metric, d=data: metrics.save(
                    m,
                    key=m.key,
                    name=d.name if d.name is not None else m.name,
                    unit=d.units if d.units is not None else m.unit,
                    allow_negative=m.allow_negative,
                ),
                id=data.id,
            )
            if saved is not None:
                done.append(metric_out(saved))
    return answer(listed("updated", done, issues))


@bp.delete("/metrics")
@require_admin_key
def delete_metrics():
    issues, done = Issues(), []
    for raw in ids_arg():
        metric = by_id(Metric, raw)
        if metric is None:
            issues.add(f"metric '{raw}' not found", id=raw)
        elif attempt(issues, lambda m=metric: metrics.delete(m) or True, id=raw):
            done.append({"id": raw})
    return answer(listed("deleted", done, issues))


# ------------------------------------------------------------------------------------------ batch events


@bp.post("/metrics/events")
@require_admin_key
def batch_events():
    """Up to 1,000 events in one transaction on the event pipeline's batch path, as POST /api/v1/events
    records them. Trophy queues them and answers 202 {"accepted": n}; gamify records them before answering,
    all or none: an event refused (an unknown metric: 404; a value, time zone or time refused: 422) refuses
    the batch, with the event's index, and nothing of it is recorded. Sent again after a fix, the events
    recorded by an earlier attempt are replays when they carry an idempotency key."""
    parsed = [_event(i, entry) for i, entry in enumerate(array(events.MAX_BATCH, status=400))]
    inputs: list[events.EventIn] = []
    for data in parsed:
        u = data.user
        inputs.append(
            events.EventIn(
                data.key,
                events.UserRef(u.id, name=u.name, email=u.email, attributes=u.attributes),
                data.value,
                u.tz,
                data.attributes,
                data.idempotency_key,
                occurred_at=data.occurred_at,
            )
        )
    results = events.process_batch(inputs, commit=False)
    for i, result in enumerate(results):
        e = result.error
        if e is not None:
            db.session.rollback()  # nothing of the batch is recorded
            message = str(e).replace(e.field, to_camel(e.field)) if e.field and "_" in e.field else str(e)
            raise TrophyError(404 if e.status == 404 else 422, f"[{i}] {message}")
    for data in parsed:  # subscribeToEmails: a user field the pipeline does not take
        if data.user.subscribe_to_emails is not None:
            apply_extras(users.by_external_id(data.user.id), data.user)
    db.session.commit()
    return answer({"accepted": len(inputs)}, 202)


def _event(index: int, entry) -> s.BatchEventIn:
    """One event of the batch; a shape problem (not an object, a field missing or of the wrong JSON type)
    answers 400, a refused value 422, naming the event's index."""
    if not isinstance(entry, dict):
        raise TrophyError(400, f"[{index}] each event must be an object")
    try:
        return s.BatchEventIn.model_validate(entry)
    except ValidationError as e:
        shape, message = _message(e.errors(include_url=False)[0])
        raise TrophyError(400 if shape else 422, f"[{index}] {message}") from None
