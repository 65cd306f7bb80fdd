"""The outbox reader: undispatched domain events into one delivery per subscribed endpoint (and the
e-mails an event calls for), points.changed coalesced per player, system and minute; test deliveries; the
deliveries that should be in a job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Optional

from sqlalchemy import func, update

from ... import after_commit
from ...extensions import db
from ...models import DomainEvent, User
from ...models._common import utcnow
from ...models.webhooks import TEST_EVENT_TYPE, WebhookDelivery, WebhookEndpoint
from .. import reminders


def event_body(ev, external_id: Optional[str]) -> str:
    """The JSON posted for a domain event (a DomainEvent or a row with its columns)."""
    body = {
        "id": ev.id,
        "type": ev.type,
        "created_at": (ev.created_at or utcnow()).isoformat(),
        "user": {"id": external_id} if ev.user_id is not None else None,
        "data": ev.payload or {},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


# points.changed is coalesced: at most one delivery per player, points system and minute, sent once the
# minute is over, with the latest total and the sum added in that minute (nothing lost: the last change
# of a minute is always in it).
COALESCED_TYPE = "points.changed"


def _coalesce_window(now: datetime) -> datetime:
    """The start of the current minute: points.changed events from before it can be coalesced and sent."""
    return now.replace(second=0, microsecond=0)


def _coalesce(events: list) -> list:
    """One event per (player, points system, minute) for points.changed; other events pass unchanged.
    Events come in id order, so the minute's last change speaks for it (its id, time and total)."""
    out, groups = [], {}
    for ev in events:
        if ev.type != COALESCED_TYPE:
            out.append(ev)
            continue
        payload = ev.payload or {}
        key = _group_key(ev)
        window = key[2]
        merged = groups.get(key)
        if merged is None:
            merged = SimpleNamespace(type=ev.type, user_id=ev.user_id, payload={"added": 0, "changes": 0})
            groups[key] = merged
            out.append(merged)
        merged.id, merged.created_at = ev.id, ev.created_at
        merged.payload = {
            **payload,
            "added": merged.payload["added"] + (payload.get("added") or 0),
            "changes": merged.payload["changes"] + 1,
            "window_start": window.isoformat(),
        }
    return out


_EVENT_COLUMNS = db.select(
    DomainEvent.id, DomainEvent.type, DomainEvent.user_id, DomainEvent.payload, DomainEvent.created_at
)
_COALESCE_LOCK = 0x6761_6D69_6679  # pg_try_advisory_xact_lock key: one coalescing dispatcher at a time


def _coalesced_rows(limit: int, window: datetime) -> list:
    """Undispatched points.changed events of minutes that are over, as whole (player, system, minute)
    groups: a group split between two batches or two dispatchers would be delivered twice. On PostgreSQL
    only one dispatcher takes them at a time (an advisory lock held until its commit; the others leave
    them for the next run); SQLite serialises writers anyway. Up to `limit` events, plus the rest of the
    groups those events belong to."""
    if db.engine.dialect.name == "postgresql":
        if not db.session.execute(db.select(func.pg_try_advisory_xact_lock(_COALESCE_LOCK))).scalar():
            return []
    pending = (DomainEvent.dispatched_at.is_(None), DomainEvent.type == COALESCED_TYPE, DomainEvent.created_at < window)
    rows = db.session.execute(_EVENT_COLUMNS.where(*pending).order_by(DomainEvent.id).limit(limit)).all()
    if len(rows) < limit:
        return rows  # every pending one: nothing left out
    groups = {_group_key(r) for r in rows}
    taken = {r.id for r in rows}
    rest = db.session.execute(
        _EVENT_COLUMNS.where(
            *pending, DomainEvent.user_id.in_({u for u, _s, _w in groups}), DomainEvent.id > rows[-1].id
        ).order_by(DomainEvent.id)
    ).all()
    return rows + [r for r in rest if r.id not in taken and _group_key(r) in groups]


def _group_key(ev) -> tuple:
    return ev.user_id, (ev.payload or {}).get("system"), _coalesce_window(ev.created_at)


@dataclass
class DispatchResult:
    events: int = 0
    deliveries: list = field(default_factory=list)
    emails: list = field(default_factory=list)


def dispatch_batch(limit: int = 500, now: Optional[datetime] = None) -> DispatchResult:
    """One batch, in the caller's transaction: deliveries (and e-mail rows) for up to `limit`
    undispatched events, which are then marked dispatched. On PostgreSQL concurrent dispatchers skip
    each other's rows (FOR UPDATE SKIP LOCKED); SQLite serialises writers anyway."""

    now = now or utcnow()
    window = _coalesce_window(now)
    # Plain rows, not ORM objects, and one UPDATE to mark them: events come by the thousand a second.
    # points.changed events are taken apart (`_coalesced_rows`): whole groups, by one dispatcher at a time.
    events = db.session.execute(
        _EVENT_COLUMNS.where(DomainEvent.dispatched_at.is_(None), DomainEvent.type != COALESCED_TYPE)
        .order_by(DomainEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    events = sorted([*events, *_coalesced_rows(limit, window)], key=lambda e: e.id)
    result = DispatchResult(events=len(events))
    if not events:
        return result
    all_ids = [e.id for e in events]
    events = _coalesce(events)
    endpoints = db.session.execute(db.select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))).scalars().all()
    user_ids = {e.user_id for e in events if e.user_id is not None}
    externals = (
        dict(db.session.execute(db.select(User.id, User.external_id).where(User.id.in_(user_ids))).all())
        if user_ids
        else {}
    )
    already = set()
    if endpoints:
        already = set(
            db.session.execute(
                db.select(WebhookDelivery.endpoint_id, WebhookDelivery.domain_event_id).where(
                    WebhookDelivery.domain_event_id.in_([e.id for e in events])
                )
            ).all()
        )
    new_deliveries = []
    for ev in events:
        targets = [ep for ep in endpoints if ep.subscribes_to(ev.type) and (ep.id, ev.id) not in already]
        if targets:
            body = event_body(ev, externals.get(ev.user_id))
            for ep in targets:
                d = _pending_delivery(ep, ev.type, body, now, domain_event_id=ev.id)
                new_deliveries.append(d)
        send_id = reminders.on_domain_event(ev, now)
        if send_id is not None:
            result.emails.append(send_id)
    db.session.execute(
        update(DomainEvent)
        .where(DomainEvent.id.in_(all_ids))
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    result.deliveries = [d.id for d in new_deliveries]
    return result


def dispatch_pending(limit: int = 500, max_batches: int = 100) -> DispatchResult:
    """Dispatch every undispatched domain event: commit each batch, then enqueue its delivery jobs
    (webhooks on queue "default", e-mails on queue "mail"). If Redis is down the rows stay pending
    and the scheduled run enqueues them later (`requeue_stale`)."""
    total = DispatchResult()
    for _ in range(max_batches):
        batch = dispatch_batch(limit)
        for delivery_id in batch.deliveries:
            after_commit.request("webhook.deliver", delivery_id)
        for send_id in batch.emails:
            after_commit.request("email.send", send_id)
        db.session.commit()
        total.events += batch.events
        total.deliveries += batch.deliveries
        total.emails += batch.emails
        if batch.events < limit:
            break
    return total


def create_test_delivery(ep: WebhookEndpoint) -> WebhookDelivery:
    now = utcnow()
    body = json.dumps(
        {
            "id": None,
            "type": TEST_EVENT_TYPE,
            "created_at": now.isoformat(),
            "user": None,
            "data": {"message": "Test event from gamify", "endpoint_id": ep.id},
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    d = _pending_delivery(ep, TEST_EVENT_TYPE, body, now)
    db.session.flush()
    return d


def _pending_delivery(ep: WebhookEndpoint, event_type: str, body: str, now, domain_event_id=None) -> WebhookDelivery:
    """A delivery not yet tried, added to the session (the job's POST takes it from there)."""
    d = WebhookDelivery(
        endpoint_id=ep.id,
        domain_event_id=domain_event_id,
        event_type=event_type,
        body=body,
        status="pending",
        attempts=0,
        last_error="",
        created_at=now,
    )
    db.session.add(d)
    return d


def stale_delivery_ids(now: Optional[datetime] = None, limit: int = 1000) -> list[int]:
    """Deliveries that should be in a job (pending or retrying, from the last 3 days); the caller
    skips those whose RQ job still exists."""
    now = now or utcnow()
    return list(
        db.session.execute(
            db.select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status.in_(("pending", "retrying")),
                WebhookDelivery.created_at > now - timedelta(days=3),
            )
            .order_by(WebhookDelivery.id)
            .limit(limit)
        ).scalars()
    )
