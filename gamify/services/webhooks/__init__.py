"""Webhooks: endpoints registered by admins receive domain events as signed JSON POSTs.

Outbox pattern: `dispatch_pending()` reads `DomainEvent` rows with `dispatched_at IS NULL`, writes one
`WebhookDelivery` per subscribed active endpoint (and the e-mail rows the event calls for), marks the
events dispatched, commits, and has one RQ job enqueued per delivery (after_commit.request). It runs
soon after any transaction that emitted events committed (outbox.emit asks for it) and every minute
from the schedule.

Signature (for receivers; see `verify_signature`):
    X-Gamify-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The modules, re-exported here: signing (secrets, the signature header and its check), endpoints (the admin's
endpoints and their delivery log), dispatch (the outbox reader: domain events into deliveries, points.changed
coalesced per minute; test deliveries; deliveries whose job is missing), delivery (the POST the deliver_webhook
job makes, refusing private networks).
"""

from __future__ import annotations

from ...models.webhooks import WEBHOOK_EVENT_TYPES  # the event types an endpoint may subscribe to
from .delivery import TIMEOUT, USER_AGENT, Attempt, allow_private_addresses, post
from .dispatch import (
    COALESCED_TYPE,
    DispatchResult,
    create_test_delivery,
    dispatch_batch,
    dispatch_pending,
    event_body,
    stale_delivery_ids,
)
from .endpoints import (
    WebhookError,
    all_endpoints,
    create_endpoint,
    delete_endpoint,
    delivery_counts,
    endpoint_deliveries,
    find_delivery,
    find_endpoint,
    mark_for_redelivery,
    recent_deliveries,
    rotate_secret,
    update_endpoint,
    validate_event_types,
    validate_url,
)
from .signing import (
    DEFAULT_TOLERANCE,
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    compute_signature,
    generate_secret,
    signature_header,
    verify_signature,
)

__all__ = [
    "WEBHOOK_EVENT_TYPES",
    "Attempt",
    "COALESCED_TYPE",
    "DEFAULT_TOLERANCE",
    "DELIVERY_HEADER",
    "DispatchResult",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMEOUT",
    "TIMESTAMP_HEADER",
    "USER_AGENT",
    "WebhookError",
    "all_endpoints",
    "allow_private_addresses",
    "compute_signature",
    "create_endpoint",
    "create_test_delivery",
    "delete_endpoint",
    "delivery_counts",
    "dispatch_batch",
    "dispatch_pending",
    "endpoint_deliveries",
    "event_body",
    "find_delivery",
    "find_endpoint",
    "generate_secret",
    "mark_for_redelivery",
    "post",
    "recent_deliveries",
    "rotate_secret",
    "signature_header",
    "stale_delivery_ids",
    "update_endpoint",
    "validate_event_types",
    "validate_url",
    "verify_signature",
]
