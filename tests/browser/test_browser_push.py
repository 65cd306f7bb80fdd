"""Chromium: the service worker registers at the site's root and the settings page's push control
subscribes and unsubscribes this browser; an idle dashboard makes (almost) no requests.

Headless Chromium has no push service to talk to (pushManager.subscribe fails with "push service not
available"), so the page's PushManager is stubbed: it returns a subscription made of a test key pair,
as a browser would, and records the options it was asked with. Everything else is real: the worker's
registration, the permission, the control's states, the JSON POST with the CSRF header and the row the
server stores. (tests/integration/test_webpush.py covers the server to push service leg.)"""

import base64
import json

from playwright.sync_api import expect

from gamify.models import PushSubscription
from gamify.services import energy, outbox, webpush
from tests import factories as f
from tests.browser.conftest import sign_in
from tests.pushfixtures import Browser

STUB = """
(() => {
  const sub = %s;
  let current = null;
  const make = () => ({
    endpoint: sub.endpoint,
    toJSON() { return sub; },
    unsubscribe() { current = null; return Promise.resolve(true); },
  });
  PushManager.prototype.subscribe = function (options) {
    window.__pushOptions = {
      userVisibleOnly: options.userVisibleOnly,
      key: Array.from(new Uint8Array(options.applicationServerKey)),
    };
    current = make();
    return Promise.resolve(current);
  };
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
})();
"""


def test_the_worker_registers_and_the_control_subscribes_and_unsubscribes(db, page, live_server):
    user = f.web_player()
    browser = Browser("https://push.example.net/send/abc123")
    page.context.grant_permissions(["notifications"], origin=live_server)
    page.add_init_script(STUB % json.dumps(browser.json()))
    sign_in(page)
    page.goto("/settings")
    control = page.locator("[data-push-control]")
    button = control.get_by_role("button", name="Turn on push on this device")
    expect(control).to_have_attribute("data-state", "off")
    expect(control.locator("[data-push-status]")).to_have_text("Push is off for this device.")
    reg = page.evaluate(
        "navigator.serviceWorker.getRegistration('/').then(r => r && {scope: r.scope,"
        " script: (r.active || r.waiting || r.installing).scriptURL})"
    )
    assert reg == {"scope": live_server + "/", "script": live_server + "/sw.js"}

    button.click()
    expect(control).to_have_attribute("data-state", "on")
    expect(control.get_by_role("button", name="Turn off push on this device")).to_have_attribute("aria-pressed", "true")
    options = page.evaluate("window.__pushOptions")
    raw = base64.urlsafe_b64decode(webpush.public_key() + "==")
    assert options == {"userVisibleOnly": True, "key": list(raw)}  # the server's VAPID key, as bytes
    db.session.rollback()
    sub = db.session.execute(db.select(PushSubscription)).scalar_one()
    assert (sub.user_id, sub.endpoint, sub.p256dh, sub.auth) == (
        user.id,
        browser.endpoint,
        browser.p256dh,
        browser.auth,
    )
    assert outbox.channel_enabled(user.id, "streak_reminder", "push") is True
    db.session.rollback()

    assert page.js_errors == []


def test_turning_push_off_removes_the_subscription(db, page, live_server):
    f.web_player()
    browser = Browser("https://push.example.net/send/xyz")
    page.context.grant_permissions(["notifications"], origin=live_server)
    page.add_init_script(STUB % json.dumps(browser.json()))
    sign_in(page)
    page.goto("/settings")
    control = page.locator("[data-push-control]")
    control.get_by_role("button", name="Turn on push on this device").click()
    expect(control).to_have_attribute("data-state", "on")
    control.get_by_role("button", name="Turn off push on this device").click()
    expect(control).to_have_attribute("data-state", "off")
    db.session.rollback()
    assert db.session.execute(db.select(PushSubscription)).first() is None
    db.session.rollback()


def idle(page, seconds: int, step: int = 1) -> None:
    for _ in range(seconds // step):
        page.clock.run_for(step * 1000)
        page.wait_for_timeout(40)  # real time: a request started now is answered and swapped in
    page.wait_for_timeout(300)


def test_an_idle_dashboard_makes_at_most_a_handful_of_requests_a_minute(db, page):
    """Before: the energy bar asked every 5 s and the bell every 60 s (13 requests a minute). Now the bar
    asks once its next +1 is due, the bell on focus, after actions and every 2 minutes as a fallback.
    The page's clock is Playwright's: a minute (then ten) passes in steps of fake time, each followed by
    a few real milliseconds so that responses arrive and swapped elements re-arm, as they would."""
    user = f.web_player()
    energy.spend(user, 12, fatigue=False)  # regenerating: the bar has a next +1 to wait for
    db.session.commit()
    sign_in(page)
    page.clock.install()
    page.goto("/dashboard")
    expect(page.locator("#energy-bar")).to_be_visible()
    due = page.locator("#energy-bar").get_attribute("data-refresh-in")
    assert due, "the server sends when the bar next changes"
    asked = []
    page.on(
        "request", lambda r: asked.append(r.url) if "/energy/bar" in r.url or "/notifications/count" in r.url else None
    )
    idle(page, 60)
    assert len(asked) <= 3, asked
    # Coming back to the tab refreshes both, once.
    before = len(asked)
    page.evaluate("document.dispatchEvent(new Event('visibilitychange')); window.dispatchEvent(new Event('focus'))")
    page.wait_for_timeout(800)
    assert sorted(u.rsplit("/", 1)[-1].split("?")[0] for u in asked[before:]) == ["bar", "count"]
    # Ten more minutes: the slow fallback (120 s) and the due +1 keep it fresh, far below 2 a minute each.
    before = len(asked)
    idle(page, 600, step=5)
    bars = [u for u in asked[before:] if "/energy/bar" in u]
    bells = [u for u in asked[before:] if "/notifications/count" in u]
    assert 1 <= len(bars) <= 8 and 1 <= len(bells) <= 6, (bars, bells)
    assert page.js_errors == []


def test_the_worker_shows_a_pushed_message_and_its_link(db, page, live_server):
    """The push event itself, delivered to the registered worker through Chrome's DevTools protocol
    (what the browser does with a message from its push service, already decrypted): the worker shows
    the notification with the title, body and deep link the server sent."""
    f.web_player()
    page.context.grant_permissions(["notifications"], origin=live_server)
    sign_in(page)
    cdp = page.context.new_cdp_session(page)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.goto("/settings")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_timeout(300)
    (reg,) = [r for r in registrations if r["scopeURL"] == live_server + "/" and not r["isDeleted"]][:1]
    payload = {
        "title": "🔥 Your 5-day streak ends at midnight",
        "body": "3 hours left.",
        "url": "/l/streak/x",
        "tag": "t",
    }
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live_server, "registrationId": reg["registrationId"], "data": json.dumps(payload)},
    )
    shown = None
    for _ in range(50):
        shown = page.evaluate(
            "navigator.serviceWorker.ready.then(r => r.getNotifications())"
            ".then(ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url})))"
        )
        if shown:
            break
        page.wait_for_timeout(100)
    assert shown == [{"title": payload["title"], "body": "3 hours left.", "tag": "t", "url": "/l/streak/x"}]
