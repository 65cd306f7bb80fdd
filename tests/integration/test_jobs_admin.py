"""Admin pages for webhooks, jobs and notification settings: access control, forms, Redis outages."""

import re

import pytest

from gamify.extensions import db
from gamify.models import MessagingSettings, WebhookDelivery, WebhookEndpoint
from gamify.services import reminders, webhooks
from tests import factories as f
from tests.mailfixtures import http_receiver, redis_down, rq_inline  # noqa: F401

PAGES = ["/admin/webhooks/", "/admin/jobs", "/admin/notifications"]


def _endpoint_page():
    ep = webhooks.create_endpoint("https://example.com/hook", ["streak.lost"])
    db.session.commit()
    return f"/admin/webhooks/{ep.id}"


@pytest.mark.parametrize("path", PAGES + ["endpoint"])
def test_admin_only(app, db, client, path):
    if path == "endpoint":
        path = _endpoint_page()
    assert client.get(path).status_code == 302  # anonymous: to the login page
    f.web_player()
    f.login(client)
    assert client.get(path).status_code == 403
    client.post("/logout", data={"csrf_token": f.csrf_token(client, "/dashboard")})
    f.admin()
    f.login(client, "admin@example.com")
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "path, data",
    [
        ("/admin/jobs/run/dispatch-outbox", {}),
        ("/admin/jobs/failed/requeue-all", {}),
        ("/admin/jobs/failed/x/requeue", {}),
        ("/admin/notifications", {"reminder_hour": "20"}),
    ],
)
def test_admin_posts_refuse_players(app, db, client, path, data):
    f.web_player()
    f.login(client)
    data = dict(data, csrf_token=f.csrf_token(client, "/dashboard"))
    assert client.post(path, data=data).status_code == 403


def test_create_endpoint_shows_secret_and_test_event_is_delivered(app, db, client, rq_inline, http_receiver):
    f.admin()
    f.login(client, "admin@example.com")
    token = f.csrf_token(client, "/admin/webhooks/")
    resp = client.post(
        "/admin/webhooks/",
        data={"csrf_token": token, "url": "ftp://nope", "active": "y", "event_types": ["streak.lost"]},
    )
    assert resp.status_code == 400 and "http://" in resp.get_data(as_text=True)
    resp = client.post(
        "/admin/webhooks/",
        data={
            "csrf_token": token,
            "url": http_receiver.url,
            "description": "CRM",
            "active": "y",
            "event_types": ["streak.lost", "achievement.completed"],
        },
    )
    assert resp.status_code == 302
    ep = db.session.execute(db.select(WebhookEndpoint)).scalar_one()
    assert ep.event_types == ["achievement.completed", "streak.lost"] and ep.active
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert ep.secret in page and ep.secret.startswith("whsec_")

    resp = client.post(f"/admin/webhooks/{ep.id}/test", data={"csrf_token": token})
    assert resp.status_code == 302
    (req,) = http_receiver.requests
    assert req.headers["X-Gamify-Event"] == "webhook.test"
    assert webhooks.verify_signature(ep.secret, req.body, req.headers["X-Gamify-Signature"])
    d = db.session.execute(db.select(WebhookDelivery)).scalar_one()
    assert d.status == "succeeded" and d.response_code == 200
    page = client.get(f"/admin/webhooks/{ep.id}").get_data(as_text=True)
    assert "webhook.test" in page and "succeeded" in page
    page = client.get(f"/admin/webhooks/{ep.id}?status=failed").get_data(as_text=True)
    assert "No deliveries yet." in page

    old = ep.secret
    client.post(f"/admin/webhooks/{ep.id}/rotate", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, ep.id).secret != old

    resp = client.post(
        f"/admin/webhooks/{ep.id}", data={"csrf_token": token, "url": http_receiver.url, "event_types": ["energy.full"]}
    )
    assert resp.status_code == 302
    db.session.expire_all()
    ep = db.session.get(WebhookEndpoint, ep.id)
    assert ep.event_types == ["energy.full"] and not ep.active

    client.post(f"/admin/webhooks/{ep.id}/delete", data={"csrf_token": token})
    assert db.session.execute(db.select(WebhookEndpoint)).first() is None
    assert db.session.execute(db.select(WebhookDelivery)).first() is None


def test_notification_settings_are_saved(app, db, client):
    f.admin()
    f.login(client, "admin@example.com")
    assert reminders.get_settings().reminder_hour == 20  # 4 hours before the local day ends
    token = f.csrf_token(client, "/admin/notifications")
    data = {
        "csrf_token": token,
        "email_enabled": "y",
        "reminder_hour": "20",
        "reactivation_threshold": "10",
        "reactivation_hour": "9",
        "recap_weekday": "6",
        "recap_hour": "18",
        "weekly_reminder_weekday": "3",
        "weekly_reminder_hour": "10",
        "monthly_reminder_days_before": "5",
        "reactivation_days": "0, 5,30",
        "default_locale": "en",
    }
    bad = client.post("/admin/notifications", data=dict(data, reactivation_days="7, 3"))
    assert bad.status_code == 400 and "increasing order" in bad.get_data(as_text=True)
    assert client.post("/admin/notifications", data=dict(data, reactivation_threshold="0")).status_code == 400
    assert client.post("/admin/notifications", data=data).status_code == 302
    db.session.expire_all()
    s = db.session.execute(db.select(MessagingSettings)).scalar_one()
    assert (
        s.reminder_hour,
        s.reactivation_threshold,
        s.reactivation_hour,
        s.recap_weekday,
        s.recap_hour,
        s.email_enabled,
        s.weekly_reminder_weekday,
        s.weekly_reminder_hour,
        s.monthly_reminder_days_before,
    ) == (20, 10, 9, 6, 18, True, 3, 10, 5)
    assert s.reactivation_days == "0,5,30"
    page = client.get("/admin/notifications").get_data(as_text=True)
    assert re.search(r'<option selected value="20">|<option value="20" selected', page)


def test_jobs_page_lists_queues_schedule_and_runs_a_job(app, db, client):
    f.admin()
    f.login(client, "admin@example.com")
    page = client.get("/admin/jobs").get_data(as_text=True)
    for name in (
        "dispatch-outbox",
        "streak-reminders",
        "settle-streaks",
        "weekly-recaps",
        "time-interval-points",
        "expire-gifts",
        "finalise-leaderboards",
    ):
        assert name in page
    assert "No worker is running" in page
    token = f.csrf_token(client, "/admin/jobs")
    assert client.post("/admin/jobs/run/streak-reminders", data={"csrf_token": token}).status_code == 302
    from rq import Queue

    from gamify.queue import get_redis

    assert Queue("default", connection=get_redis()).count == 1
    assert client.post("/admin/jobs/run/nope", data={"csrf_token": token}).status_code == 302


def test_pages_render_with_a_clear_message_when_redis_is_down(app, db, client, redis_server):
    f.admin()
    f.login(client, "admin@example.com")
    ep_page = _endpoint_page()
    token = f.csrf_token(client, "/admin/jobs")
    with redis_down(redis_server):
        resp = client.get("/admin/jobs")
        assert resp.status_code == 200
        assert "Redis is down" in resp.get_data(as_text=True)
        for path in ("/admin/webhooks/", ep_page, "/admin/notifications"):
            assert client.get(path).status_code == 200
        resp = client.post("/admin/jobs/run/dispatch-outbox", data={"csrf_token": token}, follow_redirects=True)
        assert resp.status_code == 200 and "not reachable" in resp.get_data(as_text=True)
        resp = client.post(f"{ep_page}/test", data={"csrf_token": token}, follow_redirects=True)
        assert resp.status_code == 200 and "not reachable" in resp.get_data(as_text=True)
    # The test delivery waited in the database and goes out with the next dispatch.
    assert db.session.execute(db.select(WebhookDelivery)).scalar_one().status == "pending"


def test_nav_links_for_admins(app, db, client):
    f.admin()
    f.login(client, "admin@example.com")
    page = client.get("/admin/jobs").get_data(as_text=True)
    for href, label in (
        ("/admin/webhooks", "Webhooks"),
        ("/admin/jobs", "Jobs"),
        ("/admin/notifications", "Notifications settings"),
    ):
        assert re.search(rf'href="{href}"[^>]*>{label}<', page), label
