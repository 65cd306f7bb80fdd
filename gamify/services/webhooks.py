"""Webhooks: endpoints registered by admins receive domain events as signed JSON POSTs.

Outbox pattern: `dispatch_pending()` reads `DomainEvent` rows with `dispatched_at IS NULL`, writes one
`WebhookDelivery` per subscribed active endpoint (and the e-mail rows the event calls for), marks the
events dispatched, commits, and has one RQ job enqueued per delivery (after_commit.request). It runs
soon after any transaction that emitted events committed (outbox.emit asks for it) and every minute
from the schedule.

Signature (for receivers; see `verify_signature`):
    X-Gamify-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Optional
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import func, update

from .. import after_commit, netguard
from ..extensions import db
from ..models import DomainEvent, User
from ..models._common import utcnow
from ..models.webhooks import TEST_EVENT_TYPE, WEBHOOK_EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from ..netguard import BlockedAddress
from ..ops import telemetry
from . import reminders

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Gamify-Signature"
TIMESTAMP_HEADER = "X-Gamify-Timestamp"
EVENT_HEADER = "X-Gamify-Event"
DELIVERY_HEADER = "X-Gamify-Delivery"
TIMEOUT = 5  # seconds, connect and read
DEFAULT_TOLERANCE = 300  # seconds a signature stays acceptable
USER_AGENT = "gamify-webhooks/1"


class WebhookError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------------------------------------
# Signing


def generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def compute_signature(secret: str, timestamp: int, body: bytes | str) -> str:
    if isinstance(body, str):
        body = body.encode()
    return hmac.new(secret.encode(), f"{int(timestamp)}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes | str, timestamp: Optional[int] = None) -> str:
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={compute_signature(secret, ts, body)}"


def verify_signature(
    secret: str,
    body: bytes | str,
    header: Optional[str],
    tolerance: int = DEFAULT_TOLERANCE,
    now: Optional[float] = None,
) -> bool:
    """For receivers: True when `header` (the X-Gamify-Signature value) signs exactly `body` (the raw
    request body, before any JSON parsing) with `secret`, and its timestamp is within `tolerance`
    seconds of now (replay protection; tolerance=0 disables that check). Several v1= entries are
    accepted (one matching is enough)."""
    if not header or not secret:
        return False
    ts, sigs = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():  # ('²'.isdigit() is true too)
            ts = int(value)
        elif key == "v1" and value:
            sigs.append(value.strip())
    if ts is None or not sigs:
        return False
    if tolerance and abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    expected = compute_signature(secret, ts, body)
    return any(hmac.compare_digest(expected, s) for s in sigs)


# ---------------------------------------------------------------------------------------------
# Endpoints


def validate_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("url", "enter an http:// or https:// URL, e.g. https://example.com/hooks/gamify")
    if len(url) > 500:
        raise WebhookError("url", "the URL is too long (500 characters at most)")
    return url


def validate_event_types(types) -> list[str]:
    types = [t for t in (types or []) if t]
    unknown = [t for t in types if t not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise WebhookError("event_types", f"unknown event types: {', '.join(unknown)}")
    if not types:
        raise WebhookError("event_types", "pick at least one event type")
    return sorted(set(types))


def create_endpoint(url: str, event_types, description: str = "", active: bool = True) -> WebhookEndpoint:
    now = utcnow()
    ep = WebhookEndpoint(
        url=validate_url(url),
        event_types=validate_event_types(event_types),
        description=(description or "").strip()[:200],
        active=active,
        secret=generate_secret(),
        created_at=now,
        updated_at=now,
    )
    db.session.add(ep)
    db.session.flush()
    return ep


def update_endpoint(ep: WebhookEndpoint, url: str, event_types, description: str, active: bool) -> None:
    """Refused input (WebhookError) leaves the endpoint as it was: everything is checked before it changes."""
    url, event_types = validate_url(url), validate_event_types(event_types)
    ep.url = url
    ep.event_types = event_types
    ep.description = (description or "").strip()[:200]
    ep.active = bool(active)
    ep.updated_at = utcnow()


def rotate_secret(ep: WebhookEndpoint) -> str:
    ep.secret = generate_secret()
    ep.updated_at = utcnow()
    return ep.secret


def all_endpoints() -> list[WebhookEndpoint]:
    return list(db.session.execute(db.select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars())


def find_endpoint(endpoint_id: int) -> Optional[WebhookEndpoint]:
    return db.session.get(WebhookEndpoint, endpoint_id)


def delete_endpoint(ep: WebhookEndpoint) -> None:
    """The endpoint and its delivery log."""
    db.session.execute(db.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == ep.id))
    db.session.delete(ep)


# ---------------------------------------------------------------------------------------------
# The delivery log


def delivery_counts() -> dict[int, dict[str, int]]:
    """{endpoint id: {status: deliveries}}."""
    out: dict = {}
    for endpoint_id, status, n in db.session.execute(
        db.select(WebhookDelivery.endpoint_id, WebhookDelivery.status, db.func.count(WebhookDelivery.id)).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.status
        )
    ).all():
        out.setdefault(endpoint_id, {})[status] = n
    return out


def recent_deliveries(limit: int = 20) -> list[WebhookDelivery]:
    return list(
        db.session.execute(db.select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)).scalars()
    )


def endpoint_deliveries(ep: WebhookEndpoint, status: Optional[str], page: int, per_page: int) -> tuple[list, bool]:
    """A page of the endpoint's deliveries, newest first (only those in `status` if given), and whether
    there are more."""
    q = db.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == ep.id)
    if status:
        q = q.where(WebhookDelivery.status == status)
    rows = list(
        db.session.execute(
            q.order_by(WebhookDelivery.id.desc()).offset((page - 1) * per_page).limit(per_page + 1)
        ).scalars()
    )
    return rows[:per_page], len(rows) > per_page


def find_delivery(delivery_id: int) -> Optional[WebhookDelivery]:
    return db.session.get(WebhookDelivery, delivery_id)


def mark_for_redelivery(d: WebhookDelivery) -> None:
    d.status = "pending"


# ---------------------------------------------------------------------------------------------
# Dispatch (the outbox reader)


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
                d = WebhookDelivery(
                    endpoint_id=ep.id,
                    domain_event_id=ev.id,
                    event_type=ev.type,
                    body=body,
                    status="pending",
                    attempts=0,
                    last_error="",
                    created_at=now,
                )
                db.session.add(d)
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
    d = WebhookDelivery(
        endpoint_id=ep.id,
        domain_event_id=None,
        event_type=TEST_EVENT_TYPE,
        body=body,
        status="pending",
        attempts=0,
        last_error="",
        created_at=now,
    )
    db.session.add(d)
    db.session.flush()
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


# ---------------------------------------------------------------------------------------------
# Delivery (used by the deliver_webhook job)


@dataclass
class Attempt:
    ok: bool
    status_code: Optional[int]
    error: str
    final: bool = False  # no point retrying (the address is not allowed)


def allow_private_addresses() -> bool:
    """Admins may let webhooks call loopback/private addresses (a receiver on the same network);
    the operator may too (WEBHOOKS_ALLOW_PRIVATE)."""

    if current_app.config.get("WEBHOOKS_ALLOW_PRIVATE"):
        return True
    return bool(reminders.get_settings().webhooks_allow_private)


def post(
    url: str,
    secret: str,
    body: str,
    event_type: str,
    delivery_id: int,
    timestamp: Optional[int] = None,
    allow_private: bool = False,
) -> Attempt:
    """One HTTP attempt. Network errors and non-2xx replies are failures. Redirects are not followed
    (the signed body must reach the registered URL). Unless `allow_private`, the URL's addresses must
    be public, checked after resolution and again on connecting (gamify.netguard). Every attempt counts
    in the webhook deliveries series (delivered, failed: retried, refused: final)."""
    attempt = _attempt(url, secret, body, event_type, delivery_id, timestamp, allow_private)
    telemetry.delivered("webhook", "delivered" if attempt.ok else "refused" if attempt.final else "failed")
    return attempt


def _attempt(url, secret, body, event_type, delivery_id, timestamp, allow_private) -> Attempt:
    if not allow_private:
        refusal = netguard.check_url(url)
        if refusal:
            return Attempt(False, None, refusal, final=True)
    data = body.encode()
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secret, data, ts),
        TIMESTAMP_HEADER: str(ts),
        EVENT_HEADER: event_type,
        DELIVERY_HEADER: str(delivery_id),
    }
    try:
        resp = netguard.session(allow_private).post(
            url, data=data, headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as e:
        blocked = _blocked(e)
        if blocked is not None:
            return Attempt(False, None, str(blocked), final=True)
        return Attempt(False, None, f"{type(e).__name__}: {e}"[:2000])
    if 200 <= resp.status_code < 300:
        return Attempt(True, resp.status_code, "")
    snippet = (resp.text or "")[:300]
    return Attempt(False, resp.status_code, f"HTTP {resp.status_code}: {snippet}".strip()[:2000])


def _blocked(e: BaseException):
    """The netguard refusal inside a requests/urllib3 error chain, if that is what it was."""

    seen = 0
    while e is not None and seen < 10:
        if isinstance(e, BlockedAddress):
            return e
        seen += 1
        nxt = getattr(e, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = next((a for a in getattr(e, "args", ()) if isinstance(a, BaseException)), None)
        e = nxt or e.__cause__ or e.__context__
    return None
