"""Webhooks: HMAC signatures, outbox dispatch, delivery through RQ with retries, the delivery log."""

import json
import time
from datetime import datetime, timedelta, timezone

import time_machine

from gamify import after_commit, jobs
from gamify.extensions import db
from gamify.models import DomainEvent, WebhookDelivery
from gamify.services import achievements, events, outbox, webhooks
from tests import factories as f
from tests.mailfixtures import http_receiver, player, redis_down, registries, rq_inline, work  # noqa: F401

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------
# Signatures


def test_signature_verifies_and_rejects_tampering():
    secret, body = "whsec_abc", b'{"type":"streak.lost","data":{"lost_length":9}}'
    header = webhooks.signature_header(secret, body)
    assert header.startswith("t=") and ",v1=" in header
    assert webhooks.verify_signature(secret, body, header)
    assert webhooks.verify_signature(secret, body.decode(), header)  # str bodies too
    assert not webhooks.verify_signature(secret, body + b" ", header)
    assert not webhooks.verify_signature("whsec_other", body, header)
    assert not webhooks.verify_signature(secret, body, header.replace("v1=", "v1=0"))
    assert not webhooks.verify_signature(secret, body, None)
    assert not webhooks.verify_signature(secret, body, "garbage")
    assert not webhooks.verify_signature(secret, body, "t=abc,v1=def")


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac

    secret, body, ts = "s3cret", b"{}", 1700000000
    expected = hmac.new(b"s3cret", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert webhooks.signature_header(secret, body, ts) == f"t=1700000000,v1={expected}"


def test_signature_tolerance_at_its_boundary():
    """Exactly `tolerance` seconds away is accepted; one second more is refused (both directions)."""
    secret, body = "s", b"{}"
    header = webhooks.signature_header(secret, body, 1_000_000)
    assert webhooks.verify_signature(secret, body, header, tolerance=300, now=1_000_300)
    assert not webhooks.verify_signature(secret, body, header, tolerance=300, now=1_000_301)
    assert webhooks.verify_signature(secret, body, header, tolerance=300, now=999_700)
    assert not webhooks.verify_signature(secret, body, header, tolerance=300, now=999_699)


def test_signature_timestamp_tolerance():
    secret, body = "s", b"{}"
    old = webhooks.signature_header(secret, body, int(time.time()) - 301)
    assert not webhooks.verify_signature(secret, body, old)
    assert webhooks.verify_signature(secret, body, old, tolerance=600)
    assert webhooks.verify_signature(secret, body, old, tolerance=0)  # replay check off
    future = webhooks.signature_header(secret, body, int(time.time()) + 1000)
    assert not webhooks.verify_signature(secret, body, future)
    # Rotation: several v1 values, one matching is enough.
    good = webhooks.signature_header(secret, body).split(",v1=")
    assert webhooks.verify_signature(secret, body, f"{good[0]},v1=deadbeef,v1={good[1]}")


# ---------------------------------------------------------------------------------------------
# Dispatch


def _achievement_setup():
    m = f.metric()
    f.achievement("first", "metric", metric_id=m.id, threshold=1, name="First lesson")
    db.session.commit()
    return m


def test_dispatch_creates_one_delivery_per_subscribed_active_endpoint(app, db):
    ach = webhooks.create_endpoint("http://127.0.0.1:9/a", ["achievement.completed", "streak.lost"])
    pts = webhooks.create_endpoint("http://127.0.0.1:9/p", ["points.changed"])
    off = webhooks.create_endpoint("http://127.0.0.1:9/off", ["achievement.completed"], active=False)
    u = player("u1")
    outbox.emit("achievement.completed", u.id, {"achievement": "first"})
    outbox.emit("streak.extended", u.id, {"length": 3})
    outbox.emit("points.changed", u.id, {"system": "xp", "added": 5, "total": 5})
    db.session.commit()

    later = datetime.now(timezone.utc) + timedelta(minutes=1)  # points.changed waits for its minute to end
    batch = webhooks.dispatch_batch(now=later)
    db.session.commit()
    again = webhooks.dispatch_batch(now=later)
    db.session.commit()

    assert batch.events == 3 and again.events == 0
    rows = db.session.execute(db.select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()
    assert [(r.endpoint_id, r.event_type) for r in rows] == [
        (ach.id, "achievement.completed"),
        (pts.id, "points.changed"),
    ]
    assert not any(r.endpoint_id == off.id for r in rows)
    assert all(e.dispatched_at is not None for e in db.session.execute(db.select(DomainEvent)).scalars())
    body = json.loads(rows[0].body)
    assert body["type"] == "achievement.completed" and body["user"] == {"id": "u1"}
    assert body["data"] == {"achievement": "first"} and isinstance(body["id"], int)


def test_points_changed_is_coalesced_per_player_system_and_minute(app, db):
    """Five changes within a minute: nothing while the minute runs, then one delivery with the latest
    total and the sum added; a change in the next minute is another delivery; other players and systems
    are not merged in."""
    pts = webhooks.create_endpoint("http://127.0.0.1:9/p", ["points.changed"])
    ann, bob = player("ann"), player("bob")
    t0 = datetime(2026, 5, 4, 10, 0, 10, tzinfo=timezone.utc)
    with time_machine.travel(t0, tick=False):
        for total in (10, 20, 25, 40, 45):
            outbox.emit("points.changed", ann.id, {"system": "xp", "added": total % 20 or 10, "total": total})
        outbox.emit("points.changed", ann.id, {"system": "gems", "added": 2, "total": 2})
        outbox.emit("points.changed", bob.id, {"system": "xp", "added": 7, "total": 7})
        db.session.commit()
        assert webhooks.dispatch_batch(now=t0 + timedelta(seconds=40)).events == 0  # the minute still runs
        db.session.commit()
    with time_machine.travel(t0 + timedelta(seconds=55), tick=False):
        outbox.emit("points.changed", ann.id, {"system": "xp", "added": 5, "total": 50})  # next minute
        db.session.commit()
    batch = webhooks.dispatch_batch(now=t0 + timedelta(seconds=70))
    db.session.commit()
    assert batch.events == 7  # marked dispatched: the 5 + gems + bob's
    bodies = [
        json.loads(d.body)
        for d in db.session.execute(
            db.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == pts.id).order_by(WebhookDelivery.id)
        ).scalars()
    ]
    data = sorted(
        (
            (b["user"]["id"], b["data"]["system"], b["data"]["added"], b["data"]["total"], b["data"]["changes"])
            for b in bodies
        )
    )
    # ann's xp: 10 + 20 % 20 or 10 -> added 10,10,5,... summed: 10 + 10 + 5 + 10 + 5 = 40, latest total 45
    assert data == [("ann", "gems", 2, 2, 1), ("ann", "xp", 40, 45, 5), ("bob", "xp", 7, 7, 1)]
    later = webhooks.dispatch_batch(now=t0 + timedelta(seconds=130))
    db.session.commit()
    assert later.events == 1 and len(later.deliveries) == 1  # the next minute's change: its own delivery


def test_a_coalesced_minute_is_never_split_between_batches(app, db):
    """Five changes in one minute and a batch limit of two: the batch takes the whole group (one
    delivery, all five changes), not two and then three."""
    pts = webhooks.create_endpoint("http://127.0.0.1:9/p", ["points.changed"])
    ann, bob = player("ann"), player("bob")
    t0 = datetime(2026, 5, 4, 10, 0, 10, tzinfo=timezone.utc)
    with time_machine.travel(t0, tick=False):
        outbox.emit("points.changed", bob.id, {"system": "xp", "added": 1, "total": 1})
        for total in (10, 20, 30, 40, 50):
            outbox.emit("points.changed", ann.id, {"system": "xp", "added": 10, "total": total})
        db.session.commit()
    first = webhooks.dispatch_batch(limit=2, now=t0 + timedelta(seconds=70))
    db.session.commit()
    assert first.events == 6  # bob's, and ann's five (two by the limit, three to complete the minute)
    data = sorted(
        (b["user"]["id"], b["data"]["added"], b["data"]["total"], b["data"]["changes"])
        for b in (
            json.loads(d.body)
            for d in db.session.execute(
                db.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == pts.id)
            ).scalars()
        )
    )
    assert data == [("ann", 50, 50, 5), ("bob", 1, 1, 1)]
    assert webhooks.dispatch_batch(limit=2, now=t0 + timedelta(seconds=80)).events == 0


def test_retry_on_500_then_success_with_signed_identical_body(app, db, http_receiver):
    http_receiver.statuses = [500, 200]
    _achievement_setup()
    ep = webhooks.create_endpoint(http_receiver.url, ["achievement.completed"])
    db.session.commit()
    u = player("p1")
    with time_machine.travel(T0, tick=False):
        events.process_event("lessons", u, 1, now=T0)  # commits; the after-commit hook queues dispatch
        work()
        d = db.session.execute(db.select(WebhookDelivery)).scalar_one()
        assert (d.status, d.attempts, d.response_code) == ("retrying", 1, 500)
        assert "500" in d.last_error
        scheduled, failed = registries("default")
        assert scheduled.count == 1 and failed.count == 0
    with time_machine.travel(T0 + timedelta(seconds=jobs.WEBHOOK_RETRY[1][0] + 1), tick=False):
        work()
        db.session.expire_all()
        d = db.session.get(WebhookDelivery, d.id)
        assert (d.status, d.attempts, d.response_code, d.last_error) == ("succeeded", 2, 200, "")
        assert d.delivered_at is not None
        for r in http_receiver.requests:
            assert webhooks.verify_signature(ep.secret, r.body, r.headers["X-Gamify-Signature"])
    first, second = http_receiver.requests
    assert first.body == second.body == d.body.encode()
    assert first.headers["X-Gamify-Event"] == "achievement.completed"
    assert first.headers["X-Gamify-Delivery"] == str(d.id)
    assert first.headers["Content-Type"] == "application/json"
    ts_first = int(first.headers["X-Gamify-Signature"].split(",")[0][2:])
    assert ts_first == int(T0.timestamp()) == int(first.headers["X-Gamify-Timestamp"])


def test_network_errors_are_retried_then_given_up(app, db):
    from tests.mailfixtures import free_port

    _achievement_setup()
    webhooks.create_endpoint(f"http://127.0.0.1:{free_port()}/nobody", ["achievement.completed"])
    db.session.commit()
    u = player("p1")
    t = T0
    with time_machine.travel(t, tick=False):
        events.process_event("lessons", u, 1, now=t)
        work()
    d = db.session.execute(db.select(WebhookDelivery)).scalar_one()
    assert d.status == "retrying" and d.response_code is None and "ConnectionError" in d.last_error
    # Exponential back-off (x4), written out here (not read from the code): 30 s ... about 8.5 h.
    for n, wait in enumerate((30, 120, 480, 1920, 7680, 30720), start=1):
        with time_machine.travel(t + timedelta(seconds=wait - 2), tick=False):
            work()
        db.session.expire_all()
        assert db.session.get(WebhookDelivery, d.id).attempts == n  # not before its time
        t += timedelta(seconds=wait + 1)
        with time_machine.travel(t, tick=False):
            work()
    db.session.expire_all()
    d = db.session.get(WebhookDelivery, d.id)
    assert d.status == "failed" and d.attempts == 7
    with time_machine.travel(t, tick=False):
        assert registries("default")[1].count == 1


def test_backdated_completions_fire_no_webhook(app, db, rq_inline, http_receiver):
    m = f.metric()
    u = player("old")
    events.process_event("lessons", u, 5)
    webhooks.create_endpoint(http_receiver.url, ["achievement.completed"])
    a = f.achievement("five", "metric", status="inactive", metric_id=m.id, threshold=5)
    db.session.commit()
    assert achievements.activate([a]) == 1
    db.session.commit()
    jobs.dispatch_outbox()
    assert db.session.execute(db.select(DomainEvent).where(DomainEvent.type == "achievement.completed")).first() is None
    assert db.session.execute(db.select(WebhookDelivery)).first() is None
    assert http_receiver.requests == []


def test_request_does_not_fail_when_redis_is_down_and_dispatch_catches_up(app, db, client, redis_server, http_receiver):
    _achievement_setup()
    webhooks.create_endpoint(http_receiver.url, ["achievement.completed"])
    key = f.api_key()
    with redis_down(redis_server):
        started = time.monotonic()
        for i in range(3):
            resp = client.post(
                "/api/v1/metrics/lessons/event", json={"user": {"id": f"p{i}"}, "value": 1}, headers={"X-API-Key": key}
            )
            assert resp.status_code == 201, resp.get_data(as_text=True)
            assert resp.get_json()["achievements"][0]["key"] == "first"
        assert time.monotonic() - started < 5  # one connect timeout, then requests skip Redis for a while
    pending = db.session.execute(db.select(DomainEvent).where(DomainEvent.dispatched_at.is_(None))).scalars().all()
    assert any(e.type == "achievement.completed" for e in pending)
    jobs.dispatch_outbox()  # what the every-minute schedule does
    work()
    rows = db.session.execute(db.select(WebhookDelivery)).scalars().all()
    assert [d.status for d in rows] == ["succeeded"] * 3 and len(http_receiver.requests) == 3


def test_inactive_endpoint_delivery_is_not_sent(app, db, rq_inline, http_receiver):
    ep = webhooks.create_endpoint(http_receiver.url, ["streak.lost"])
    u = player("p1")
    with after_commit.muted("outbox"):  # dispatch by hand below
        outbox.emit("streak.lost", u.id, {"lost_length": 3})
        db.session.commit()
    batch = webhooks.dispatch_batch()
    ep.active = False
    db.session.commit()
    assert jobs.deliver_webhook(batch.deliveries[0]) == "endpoint inactive"
    assert http_receiver.requests == []
    assert db.session.get(WebhookDelivery, batch.deliveries[0]).status == "failed"


def test_redis_timeouts_make_requests_skip_enqueueing_for_a_while(app, monkeypatch):
    """An unreachable Redis host costs one connect timeout, not one per request."""
    from redis.exceptions import TimeoutError as RedisTimeout

    import gamify.queue

    calls = []

    def slow_down(*_a, **_k):
        calls.append(1)
        raise RedisTimeout("Timeout connecting to server")

    monkeypatch.setattr(gamify.queue, "get_redis", slow_down)
    for module in (jobs.base, jobs.dispatch):  # each holds its own reference (imported at the top)
        monkeypatch.setattr(module, "get_redis", slow_down)
    try:
        jobs.request_dispatch()
        jobs.request_dispatch()
        assert jobs.enqueue_email(1) is False
        assert len(calls) == 1
    finally:
        gamify.queue.reset_redis_backoff()
    jobs.request_dispatch()
    assert len(calls) == 2
    gamify.queue.reset_redis_backoff()


def test_webhooks_never_call_private_addresses_unless_allowed(app, db, client, rq_inline, http_receiver, monkeypatch):
    """Server-side request forgery: an endpoint on 127.0.0.1 (or a name resolving there) gets nothing,
    the delivery fails at once with the reason; an admin can allow private addresses."""
    import socket

    from gamify.models.webhooks import WebhookDelivery

    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE", False)
    port = http_receiver.server.server_port
    ep = webhooks.create_endpoint(f"http://127.0.0.1:{port}/hook", ["achievement.completed"])
    named = webhooks.create_endpoint(f"http://localhost:{port}/hook", ["achievement.completed"])
    db.session.commit()
    for e in (ep, named):
        d = webhooks.create_test_delivery(e)
        db.session.commit()
        assert jobs.deliver_webhook(d.id).startswith("refused")
        d = db.session.get(WebhookDelivery, d.id)
        assert d.status == "failed" and "loopback, private" in d.last_error
    assert http_receiver.requests == []

    # DNS rebinding: the name looked public when checked (the check passes), then resolves to
    # 127.0.0.1 when connecting: refused on connect.
    import gamify.netguard as ng

    real = socket.getaddrinfo
    monkeypatch.setattr(ng, "check_url", lambda url: None)
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, *a, **k: real("127.0.0.1" if host == "rebind.test" else host, *a, **k)
    )
    rebind = webhooks.create_endpoint(f"http://rebind.test:{port}/hook", ["achievement.completed"])
    d = webhooks.create_test_delivery(rebind)
    db.session.commit()
    assert jobs.deliver_webhook(d.id).startswith("refused")
    assert "127.0.0.1" in db.session.get(WebhookDelivery, d.id).last_error
    assert http_receiver.requests == []

    # The admin allows private addresses: delivered.
    f.admin()
    f.login(client, "admin@example.com")
    page = client.get("/admin/webhooks/").get_data(as_text=True)
    assert "Allow endpoints on private networks" in page
    r = client.post(
        "/admin/webhooks/addresses", data={"allow_private": "y", "csrf_token": f.csrf_token(client, "/admin/webhooks/")}
    )
    assert r.status_code == 302
    d = webhooks.create_test_delivery(ep)
    db.session.commit()
    assert jobs.deliver_webhook(d.id).startswith("delivered")
    assert len(http_receiver.requests) == 1


def test_a_name_with_any_private_address_is_refused_before_connecting(monkeypatch):
    """The first check looks at every address a name resolves to: one private among public ones is
    enough to refuse (the connection might land on it)."""
    import socket

    from gamify import netguard

    answers = {
        "mixed.test": ["93.184.216.34", "10.0.0.7"],
        "public.test": ["93.184.216.34", "2606:2800:220:1::"],
        "mapped.test": ["::ffff:127.0.0.1"],
        "linklocal.test": ["169.254.169.254"],
    }
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in answers[host]
        ],
    )
    assert "10.0.0.7" in netguard.check_url("https://mixed.test/hook")
    assert netguard.check_url("https://public.test/hook") is None
    assert "::ffff:127.0.0.1" in netguard.check_url("http://mapped.test/hook")
    assert "169.254.169.254" in netguard.check_url("http://linklocal.test/")  # cloud metadata service
