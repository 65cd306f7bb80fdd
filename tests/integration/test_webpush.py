"""Web Push end to end: the streak reminder of a subscribed player leaves through the real RQ worker
(queue "push") to a push service on loopback, which checks the VAPID JWT as a push service does; the
test then decrypts the payload with the browser's private key, as the browser would. A push service
answering 410 loses the subscription and the e-mail goes instead; no push twice, never push and e-mail
unless the player ticked both; quiet hours hold a push back."""

from datetime import date, datetime, timedelta, timezone

import pytest
import time_machine

from gamify import jobs
from gamify.extensions import db
from gamify.models import EmailSend, NotificationDelivery, PushSubscription
from gamify.services import outbox, webpush
from tests import factories as f
from tests.mailfixtures import player, smtp_server, streak_until, work  # noqa: F401
from tests.pushfixtures import Browser, push_service, verify_vapid  # noqa: F401

EVENING = datetime(2026, 3, 10, 20, 30, tzinfo=timezone.utc)  # 20:30 in London (GMT), 3 h 30 min to midnight
MIDNIGHT = datetime(2026, 3, 11, tzinfo=timezone.utc)
QUEUES = ("events-fanout", "default", "push", "mail")


def _at_risk(name="ann"):
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    return streak_until(player(name, "Europe/London"), date(2026, 3, 9), 5)


def _subscribe(user, push_service, name="phone") -> Browser:
    browser = Browser(push_service.endpoint(name))
    webpush.subscribe(user.id, browser.endpoint, browser.p256dh, browser.auth, "test")
    webpush.prefer_push(user.id)
    db.session.commit()
    return browser


def _log() -> list[tuple]:
    db.session.expire_all()
    return [
        (d.channel, d.status)
        for d in db.session.execute(db.select(NotificationDelivery).order_by(NotificationDelivery.id)).scalars()
    ]


def test_a_subscribed_player_gets_the_reminder_as_a_push_only(app, db, push_service, smtp_server):
    u = _at_risk()
    browser = _subscribe(u, push_service)
    with time_machine.travel(EVENING, tick=False):
        assert jobs.streak_reminders() == 1
        work(QUEUES)
    (req,) = push_service.to("phone")
    vapid = verify_vapid(req.headers, push_service.origin)
    assert vapid["k"] == webpush.public_key()
    # exp: pywebpush's 12 hours from the (travelled) clock: within the 24 h RFC 8292 allows
    assert vapid["claims"]["exp"] == int(EVENING.timestamp()) + 12 * 3600
    assert vapid["claims"]["sub"].startswith("mailto:")
    assert req.headers["content-encoding"] == "aes128gcm"
    assert int(req.headers["ttl"]) == 3 * 3600 + 30 * 60  # until the period ends at midnight
    payload = browser.decrypt(req.body)
    # The shipped push template (templates/notifications/streak_reminder/push_*.txt), no freezes configured
    assert payload["title"] == "🔥 Your 5-day streak ends at midnight"
    assert payload["body"] == "3 hours left. A few minutes is all it takes to keep it alive."
    assert "/l/streak/" in payload["url"] and payload["tag"].startswith("streak_reminder-")
    assert smtp_server.messages == []  # push instead of the e-mail
    send = db.session.execute(db.select(EmailSend)).scalar_one()
    assert (send.status, send.last_error) == ("skipped", "sent as a push notification")
    assert _log() == [("push", "sent")]
    assert db.session.execute(db.select(PushSubscription)).scalar_one().last_success_at == EVENING
    # The deep link logs the player in on the streak page, and counts the click on the push.
    path = payload["url"].split("://", 1)[1].split("/", 1)[1]
    with time_machine.travel(EVENING + timedelta(minutes=3), tick=False):
        assert app.test_client().get("/" + path).headers["Location"].endswith("/streak")
    db.session.expire_all()
    assert db.session.execute(db.select(NotificationDelivery.clicked_at)).scalar_one() is not None
    # The next run of the schedule and the dispatcher send nothing again.
    with time_machine.travel(EVENING + timedelta(minutes=15), tick=False):
        assert jobs.streak_reminders() == 0
        jobs.dispatch_outbox()
        work(QUEUES)
    assert len(push_service.requests) == 1 and smtp_server.messages == []


def test_gone_subscription_is_deleted_and_the_email_goes_instead(app, db, push_service, smtp_server):
    u = _at_risk()
    _subscribe(u, push_service, "old-phone")
    push_service.statuses["old-phone"] = 410
    with time_machine.travel(EVENING, tick=False):
        jobs.streak_reminders()
        work(QUEUES)
    assert len(push_service.to("old-phone")) == 1
    assert db.session.execute(db.select(PushSubscription)).scalars().all() == []
    (msg,) = smtp_server.messages
    assert msg.to == "ann@example.com" and "5-day streak" in msg.subject
    assert _log() == [("push", "fell_back"), ("email", "sent")]
    # The next reminder (another day) goes straight to the e-mail: the player still wants push, has no browser.
    assert outbox.channel_enabled(u.id, "streak_reminder", "push") is True


def test_push_on_without_a_browser_falls_back_to_email(app, db, smtp_server, push_service):
    u = _at_risk()
    browser = _subscribe(u, push_service)
    webpush.unsubscribe(u.id, browser.endpoint)
    db.session.commit()
    with time_machine.travel(EVENING, tick=False):
        jobs.streak_reminders()
        work(QUEUES)
    assert push_service.requests == [] and len(smtp_server.messages) == 1
    assert _log() == [("email", "sent"), ("push", "fell_back")]


def test_both_ticked_sends_both_once(app, db, push_service, smtp_server):
    u = _at_risk()
    _subscribe(u, push_service)
    outbox.set_preference(u.id, "streak_reminder", "email", True)
    db.session.commit()
    with time_machine.travel(EVENING, tick=False):
        jobs.streak_reminders()
        work(QUEUES)
    assert len(push_service.requests) == 1 and len(smtp_server.messages) == 1
    assert _log() == [("push", "sent"), ("email", "sent")]


def test_push_switched_off_at_send_time_is_not_pushed(app, db, push_service, smtp_server):
    u = _at_risk()
    _subscribe(u, push_service)
    with time_machine.travel(EVENING, tick=False):
        jobs.streak_reminders()  # routed to push; the player switches it off before the job runs
        outbox.set_preference(u.id, "streak_reminder", "push", False)
        db.session.commit()
        work(QUEUES)
    assert push_service.requests == [] and smtp_server.messages == []
    assert db.session.execute(db.select(EmailSend.status)).scalar_one() == "skipped"


def test_quiet_hours_hold_the_push_until_they_end(app, db, push_service, smtp_server):
    a = player("night-owl", "Europe/London")
    _subscribe(a, push_service)
    with time_machine.travel(datetime(2026, 3, 10, 23, 0, tzinfo=timezone.utc), tick=False):
        # 23:00 in London: in the default quiet hours (22-8); held until 08:00 local
        assert webpush.quiet_until(datetime.now(timezone.utc), "Europe/London") == datetime(
            2026, 3, 11, 8, tzinfo=timezone.utc
        )
    assert webpush.quiet_until(datetime(2026, 3, 10, 21, 59, tzinfo=timezone.utc), "Europe/London") is None
    assert webpush.quiet_until(datetime(2026, 3, 11, 7, 0, tzinfo=timezone.utc), "Europe/London") == datetime(
        2026, 3, 11, 8, tzinfo=timezone.utc
    )
    # 22:00 in London is 07:00 in Tokyo the next morning: quiet there until 08:00
    assert webpush.quiet_until(datetime(2026, 3, 10, 22, 0, tzinfo=timezone.utc), "Asia/Tokyo") == datetime(
        2026, 3, 10, 23, 0, tzinfo=timezone.utc
    )


def test_a_reminder_due_in_quiet_hours_expires_rather_than_wake_anyone(app, db, push_service, smtp_server):
    u = _at_risk()
    _subscribe(u, push_service)
    late = datetime(2026, 3, 10, 22, 30, tzinfo=timezone.utc)
    with time_machine.travel(late, tick=False):
        jobs.streak_reminders()
        work(QUEUES)
    assert push_service.requests == [] and smtp_server.messages == []
    assert db.session.execute(db.select(EmailSend.status)).scalar_one() == "expired"


@pytest.mark.parametrize(
    "endpoint,keys",
    [
        ("ftp://push.example/x", None),
        ("https://push.example/" + "x" * 1100, None),
        ("https://push.example/x", {"p256dh": "AAAA", "auth": "AAAA"}),
    ],
)
def test_unusable_subscriptions_are_refused(app, endpoint, keys):
    good = Browser("https://push.example/x")
    keys = keys or {"p256dh": good.p256dh, "auth": good.auth}
    u = f.player("p")
    with pytest.raises(webpush.PushError):
        webpush.subscribe(u.id, endpoint, keys["p256dh"], keys["auth"])


def test_private_endpoints_are_refused_unless_allowed(app, db, monkeypatch, push_service):
    """A browser supplies the endpoint: without WEBPUSH_ALLOW_PRIVATE it must be https, and the
    send path refuses loopback addresses (netguard), so a subscription cannot aim the server inward."""
    monkeypatch.setitem(app.config, "WEBPUSH_ALLOW_PRIVATE", False)
    u = f.player("p")
    b = Browser(push_service.endpoint("x"))
    with pytest.raises(webpush.PushError):
        webpush.subscribe(u.id, b.endpoint, b.p256dh, b.auth)
    sub = PushSubscription(user_id=u.id, endpoint=b.endpoint.replace("http:", "https:"), p256dh=b.p256dh, auth=b.auth)
    out = webpush.send([sub], {"title": "t"}, 60)
    assert out.sent == 0 and out.errors and push_service.requests == []


def test_the_vapid_key_is_made_once_and_kept(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "VAPID_KEY_FILE", str(tmp_path / "vapid.pem"))
    app.extensions.pop("gamify.vapid", None)
    first = webpush.public_key()
    app.extensions.pop("gamify.vapid", None)
    assert webpush.public_key() == first and (tmp_path / "vapid.pem").stat().st_mode & 0o777 == 0o600
    app.extensions.pop("gamify.vapid", None)


# ---------------------------------------------------------------------------------------------
# The player's side: service worker, settings control, subscribe/unsubscribe


def test_the_service_worker_is_served_from_the_root(app, client):
    r = client.get("/sw.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript"
    assert r.headers["Service-Worker-Allowed"] == "/" and "no-cache" in r.headers["Cache-Control"]
    assert b'addEventListener("push"' in r.data and b"notificationclick" in r.data


def test_the_settings_control_subscribes_and_unsubscribes_a_browser(app, db, client, push_service):
    u = f.web_player()
    f.login(client)
    html = client.get("/settings").get_data(as_text=True)
    assert f'data-public-key="{webpush.public_key()}"' in html and "js/push.js" in html
    token = f.csrf_token(client, "/settings")
    b = Browser(push_service.endpoint("laptop"))
    assert client.post("/settings/push/subscribe", json=b.json()).status_code == 400  # no CSRF token
    assert db.session.execute(db.select(PushSubscription)).first() is None
    r = client.post("/settings/push/subscribe", json=b.json(), headers={"X-CSRFToken": token})
    assert r.status_code == 200 and r.json == {"subscribed": True, "devices": 1}
    sub = db.session.execute(db.select(PushSubscription)).scalar_one()
    assert (sub.user_id, sub.endpoint, sub.p256dh, sub.auth) == (u.id, b.endpoint, b.p256dh, b.auth)
    # The first browser: push on, those types' e-mails off (push instead); in-app types untouched
    assert outbox.channel_enabled(u.id, "streak_reminder", "push") is True
    assert outbox.channel_enabled(u.id, "streak_reminder", "email") is False
    assert outbox.channel_enabled(u.id, "gift", "push") is False
    bad = {"endpoint": b.endpoint, "keys": {"p256dh": "x", "auth": "y"}}
    assert client.post("/settings/push/subscribe", json=bad, headers={"X-CSRFToken": token}).status_code == 400
    r = client.post("/settings/push/unsubscribe", json={"endpoint": b.endpoint}, headers={"X-CSRFToken": token})
    assert r.json == {"subscribed": False, "removed": True, "devices": 0}
    assert db.session.execute(db.select(PushSubscription)).first() is None


def test_the_push_column_is_saved_with_the_other_preferences(app, db, client):
    u = f.web_player()
    f.login(client)
    html = client.get("/settings").get_data(as_text=True)
    assert 'aria-label="Streak reminders — Push"' in html
    assert 'name="gift__push"' not in html  # push carries only what e-mail carries
    token = f.csrf_token(client, "/settings")
    form = {"csrf_token": token, "streak_reminder__push": "y", "streak_reminder__in_app": "y"}
    client.post("/settings/notifications", data=form)
    assert outbox.channel_enabled(u.id, "streak_reminder", "push") is True
    assert outbox.channel_enabled(u.id, "streak_reminder", "email") is False


def test_a_row_not_due_yet_is_not_pushed_until_it_is(app, db, push_service):
    u = f.player("p", tz="Europe/London")
    _subscribe(u, push_service)
    later = EVENING + timedelta(hours=-2)
    send = EmailSend(
        user_id=u.id,
        type="recap",
        period_start=date(2026, 3, 9),
        ref="",
        payload={},
        status="pending",
        attempts=0,
        last_error="",
        send_after=EVENING,
        expires_at=EVENING + timedelta(days=2),
    )
    db.session.add(send)
    db.session.commit()
    with time_machine.travel(later, tick=False):
        assert jobs.deliver_push(send.id) == "not due yet"
    assert push_service.requests == [] and _log() == []
