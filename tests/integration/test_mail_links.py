"""Signed links in e-mails: deep-link login (players only, single purpose, single use, 48 hours) and
RFC 8058 one-click unsubscribe (reusable)."""

from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

import time_machine

from gamify import jobs, links
from gamify.extensions import db
from gamify.services import outbox
from tests import factories as f
from tests.mailfixtures import player, rq_inline, smtp_server, streak_until  # noqa: F401

EVENING = datetime(2026, 3, 10, 20, 30, tzinfo=timezone.utc)  # 20:30 in London (GMT)


def _reminded(smtp_server):
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    u = streak_until(player("ann", "Europe/London"), date(2026, 3, 9), 5)
    smtp_server.messages.clear()
    with time_machine.travel(EVENING, tick=False):
        assert jobs.streak_reminders() == 1
    (msg,) = smtp_server.messages
    return u, msg


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def logged_in(client) -> bool:
    return client.get("/dashboard").status_code == 200


def test_email_is_multipart_with_deep_link_and_one_click_headers(app, db, rq_inline, smtp_server):
    u, msg = _reminded(smtp_server)
    assert msg.message.get_content_type() == "multipart/alternative"
    assert msg.text and "<html" in msg.html.lower()
    assert msg.rcpt_tos == [u.email] and msg.to == u.email
    assert msg.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # On the wire: a plain <URL> (no RFC 2047 encoded words, which one-click clients do not decode).
    assert f"List-Unsubscribe: <{msg.unsubscribe_url}>".encode() in msg.raw
    unsub = msg.unsubscribe_url
    assert unsub.startswith(app.config["PUBLIC_URL"]) and "/unsubscribe/" in unsub
    assert unsub in msg.text and unsub.replace("&", "&amp;") in msg.html
    (deep,) = msg.links("/l/streak/")
    assert deep.startswith(app.config["PUBLIC_URL"])
    assert deep in msg.html
    # The mail says what the link does: one sign-in, within 48 hours.
    assert "logs you in once, within 48 hours" in msg.text and "logs you in once, within 48 hours" in msg.html


def test_deep_link_logs_the_player_into_the_streak_page(app, db, client, rq_inline, smtp_server):
    u, msg = _reminded(smtp_server)
    (deep,) = msg.links("/l/streak/")
    assert not logged_in(client)
    with time_machine.travel(EVENING + timedelta(hours=47), tick=False):
        resp = client.get(path_of(deep))
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/streak")
        assert logged_in(client)
        with client.session_transaction() as s:
            assert s["_user_id"] == str(u.id)


def test_a_login_link_signs_in_once(app, db, client, rq_inline, smtp_server):
    """Used once, the link no longer signs in: not after logout, not in another browser. It lands on the
    login page with a friendly message, and from there on the page the link was for."""
    u, msg = _reminded(smtp_server)
    (deep,) = msg.links("/l/streak/")
    with time_machine.travel(EVENING + timedelta(hours=1), tick=False):
        assert client.get(path_of(deep)).status_code == 302 and logged_in(client)
        assert client.get(path_of(deep)).headers["Location"].endswith("/streak")  # same player: harmless
        client.post("/logout", data={"csrf_token": f.csrf_token(client, "/dashboard")})
        assert not logged_in(client)
        for browser in (client, app.test_client()):
            resp = browser.get(path_of(deep))
            assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login"
            assert "next=%2Fstreak" in resp.headers["Location"] or "next=/streak" in resp.headers["Location"]
            page = browser.get(path_of(resp.headers["Location"])).get_data(as_text=True)
            assert "already used" in page
            assert not logged_in(browser)
        # A fresh link (the next e-mail) works.
        fresh = links.deep_link(u.id, "streak")
        assert client.get(path_of(fresh)).status_code == 302 and logged_in(client)


def test_expired_link_shows_a_friendly_410_and_does_not_log_in(app, db, client, rq_inline, smtp_server):
    _u, msg = _reminded(smtp_server)
    (deep,) = msg.links("/l/streak/")
    with time_machine.travel(EVENING + timedelta(hours=49), tick=False):
        resp = client.get(path_of(deep))
    assert resp.status_code == 410
    page = resp.get_data(as_text=True)
    assert "expired" in page.lower() and 'href="/login"' in page
    assert not logged_in(client)


def test_tampered_link_is_refused(app, db, client, rq_inline, smtp_server):
    _u, msg = _reminded(smtp_server)
    (deep,) = msg.links("/l/streak/")
    p = path_of(deep)
    tampered = p[:-3] + ("AAA" if not p.endswith("AAA") else "BBB")
    resp = client.get(tampered)
    assert resp.status_code == 400 and "Log in" in resp.get_data(as_text=True)
    assert not logged_in(client)
    # Same token, other page: the purpose is part of the signature.
    resp = client.get(p.replace("/l/streak/", "/l/achievements/"))
    assert resp.status_code == 400 and not logged_in(client)
    # Unknown purpose.
    assert client.get(p.replace("/l/streak/", "/l/admin/")).status_code == 400
    assert not logged_in(client)


def test_unsubscribe_token_cannot_log_in_and_login_token_cannot_unsubscribe(app, db, client):
    u = player("bob")
    unsub = links.unsubscribe_token(u.id, "streak_reminder")
    assert client.get(f"/l/streak/{unsub}").status_code == 400
    assert not logged_in(client)
    login = links.login_token(u.id, "streak")
    assert client.get(f"/unsubscribe/{login}").status_code == 400
    assert client.post(f"/unsubscribe/{login}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert outbox.channel_enabled(u.id, "streak_reminder", "email")


def test_deep_links_never_log_in_an_admin(app, db, client):
    admin = f.admin()
    resp = client.get(f"/l/dashboard/{links.login_token(admin.id, 'dashboard')}")
    assert resp.status_code == 400
    assert client.get("/admin/").status_code == 302  # still anonymous


def test_someone_else_logged_in_is_asked_before_switching(app, db, client):
    f.web_player()
    f.login(client)
    other = player("zoe")
    path = f"/l/achievements/{links.login_token(other.id, 'achievements')}"
    resp = client.get(path)
    assert resp.status_code == 200 and "Switch account" in resp.get_data(as_text=True)
    assert client.post(path).status_code == 400  # CSRF protected
    resp = client.post(path, data={"csrf_token": f.csrf_token(client, "/dashboard")})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/achievements")
    with client.session_transaction() as s:
        assert s["_user_id"] == str(other.id)


def test_unsubscribe_get_confirms_and_one_click_post_needs_no_csrf(app, db, client, rq_inline, smtp_server):
    u, msg = _reminded(smtp_server)
    path = path_of(msg.unsubscribe_url)
    resp = client.get(path)
    assert resp.status_code == 200 and "<form" in resp.get_data(as_text=True)
    assert outbox.channel_enabled(u.id, "streak_reminder", "email")  # GET changes nothing

    # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click", no cookie, no CSRF token.
    resp = client.post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 200
    db.session.expire_all()
    assert not outbox.channel_enabled(u.id, "streak_reminder", "email")
    assert outbox.channel_enabled(u.id, "recap", "email")  # only that type
    assert not logged_in(client)
    # Unsubscribe links stay usable: the same link again (e.g. from an older mail) still works.
    assert client.get(path).status_code == 200
    assert (
        client.post(
            path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        ).status_code
        == 200
    )

    # The next evening: no reminder.
    smtp_server.messages.clear()
    with time_machine.travel(EVENING + timedelta(days=1), tick=False):
        assert jobs.streak_reminders() == 0
    assert smtp_server.messages == []


def test_unsubscribed_player_gets_no_reminder_even_when_at_risk(app, db, rq_inline, smtp_server):
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    u = streak_until(player("cy", "Europe/London"), date(2026, 3, 9), 5)
    outbox.set_preference(u.id, "streak_reminder", "email", False)
    db.session.commit()
    smtp_server.messages.clear()
    with time_machine.travel(EVENING, tick=False):
        assert jobs.streak_reminders() == 0
    assert smtp_server.messages == []
    # Re-subscribing through the link works too.
    from flask import current_app

    client = current_app.test_client()
    token = links.unsubscribe_token(u.id, "streak_reminder")
    assert client.post(f"/unsubscribe/{token}", data={"action": "resubscribe"}).status_code == 200
    db.session.expire_all()
    assert outbox.channel_enabled(u.id, "streak_reminder", "email")
    with time_machine.travel(EVENING, tick=False):
        assert jobs.streak_reminders() == 1


def test_bad_unsubscribe_link_is_friendly(app, db, client):
    resp = client.get("/unsubscribe/not-a-token")
    assert resp.status_code == 400 and "Log in" in resp.get_data(as_text=True)
    assert (
        client.post(
            "/unsubscribe/not-a-token",
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        ).status_code
        == 400
    )


def test_used_link_nonces_are_forgotten_once_the_links_expired(app, db, client):
    from gamify.models import UsedLoginLink

    u = player("cal")
    for hours_ago in (1, 50):  # a nonce used an hour ago must stay; one from 50 hours ago may go
        with time_machine.travel(datetime.now(timezone.utc) - timedelta(hours=hours_ago), tick=False):
            assert client.get(f"/l/streak/{links.login_token(u.id, 'streak')}").status_code == 302
        client.post("/logout", data={"csrf_token": f.csrf_token(client, "/dashboard")})
    assert db.session.execute(db.select(db.func.count()).select_from(UsedLoginLink)).scalar() == 2
    assert jobs.prune_logs()["login_links"] == 1
    (left,) = db.session.execute(db.select(UsedLoginLink)).scalars()
    assert left.used_at > datetime.now(timezone.utc) - timedelta(hours=2)
