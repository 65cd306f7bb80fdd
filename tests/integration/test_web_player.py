"""Player pages: access, rendering with real data, HTMX partials, preferences, notifications."""

import re
from datetime import timedelta

import pytest
import time_machine

from gamify.models import AchievementCompletion, Notification, NotificationPreference, PointsAward
from gamify.models._common import utcnow
from gamify.services import outbox
from gamify.services import points as points_svc
from gamify.services.events import process_event
from tests import factories as f

PLAYER_PAGES = ["/dashboard", "/streak", "/achievements", "/points", "/settings", "/notifications", "/wrapped"]
HX = {"HX-Request": "true"}


def world(db, tz="UTC"):
    """A configured product and one signed-up web player with some history."""
    m = f.metric("lessons", "Lessons", "lessons")
    f.streak({m: 1}, freeze_initial=1, freeze_max=3)
    xp = f.system(
        "xp", levels=[("bronze", "Bronze", 0), ("silver", "Silver", 100), ("gold", "Gold", 500)], name="XP", badge="⚡"
    )
    f.system("gems", name="Gems", badge="💎")
    f.trigger(xp, "metric", 10, metric_id=m.id)
    first = f.achievement("first", "metric", metric_id=m.id, threshold=1, name="First lesson", badge="🎉")
    f.achievement("hundred", "metric", metric_id=m.id, threshold=100, name="Centurion", badge="💯")
    f.achievement("week", "streak", streak_length=7, name="Week warrior", badge="🔥")
    f.achievement("soon", "metric", status="locked", metric_id=m.id, threshold=1000, name="Coming soon")
    f.achievement("combo", "composite", prerequisite_ids=[first.id], name="Combo")
    db.session.commit()
    user = f.web_player(tz=tz)
    return user, m, xp


def login_client(client, email="player@example.com"):
    f.login(client, email)
    return f.csrf_token(client, "/settings")


@pytest.mark.parametrize("path", PLAYER_PAGES)
def test_anonymous_is_sent_to_login_with_next(client, db, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")
    assert path in resp.headers["Location"]


def test_login_returns_to_the_page_asked_for(client, db):
    f.web_player()
    client.get("/streak")  # remembered as next
    token = f.csrf_token(client, "/login?next=/streak")
    resp = client.post(
        "/login?next=/streak", data={"email": "player@example.com", "password": "correct horse", "csrf_token": token}
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/streak"


def test_htmx_request_without_session_gets_hx_redirect(client, db):
    resp = client.get("/notifications?panel=1", headers=HX)
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"].startswith("/login")


@pytest.mark.parametrize("path", PLAYER_PAGES)
def test_player_pages_render(client, db, path):
    user, m, _xp = world(db)
    for day in range(3):
        process_event("lessons", user, 2, now=utcnow() - timedelta(days=2 - day))
    login_client(client)
    resp = client.get(path)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    html = resp.get_data(as_text=True)
    assert 'name="csrf-token"' in html and 'id="main"' in html
    assert 'aria-current="page"' in html


@pytest.mark.parametrize(
    "path,method",
    [
        ("/settings", "post"),
        ("/settings/notifications", "post"),
        ("/notifications/read-all", "post"),
        ("/settings/timezone", "post"),
        ("/logout", "post"),
    ],
)
def test_posts_without_csrf_token_are_refused(client, db, path, method):
    world(db)
    login_client(client)
    resp = getattr(client, method)(path, data={"display_name": "x", "timezone": "UTC"})
    assert resp.status_code == 400


def test_dashboard_shows_streak_expiry_in_player_time_zone(client, db):
    user, _m, _xp = world(db, tz="America/New_York")
    # 15:00 UTC = 10:00 in New York; extending today means the streak is safe until tomorrow 11:59 PM NY time.
    with time_machine.travel(f.utc(2026, 3, 10, 15, 0), tick=False):
        process_event("lessons", user, 1, now=utcnow())
        login_client(client)
        html = client.get("/dashboard").get_data(as_text=True)
    assert "11:59 PM tomorrow" in html
    assert 'data-countdown="2026-03-12T04:00:00+00:00"' in html  # midnight NY (EDT after Mar 8) in UTC
    assert "America/New_York" in html
    assert 'data-streak-length="1"' in html
    assert "1 freeze" in html
    assert 'data-points-total="10"' in html and "Silver" in html  # XP card with next level
    assert "First lesson" in html  # recent achievements


def test_dashboard_warns_when_the_streak_still_needs_today(client, db):
    user, _m, _xp = world(db, tz="Europe/Berlin")
    with time_machine.travel(f.utc(2026, 1, 5, 9, 0), tick=False):
        process_event("lessons", user, 1, now=f.utc(2026, 1, 4, 12, 0))
        login_client(client)
        html = client.get("/dashboard").get_data(as_text=True)
    assert "Expires at <strong>11:59 PM today</strong>" in html
    assert 'data-countdown="2026-01-05T23:00:00+00:00"' in html


def test_streak_calendar_marks_extended_frozen_and_broken_days(client, db):
    user, _m, _xp = world(db)
    process_event("lessons", user, 1, now=f.utc(2026, 2, 1, 12))
    process_event("lessons", user, 1, now=f.utc(2026, 2, 2, 12))
    # Feb 3 missed: the freeze covers it; Feb 4 and 5 missed: broken.
    process_event("lessons", user, 1, now=f.utc(2026, 2, 6, 12))
    with time_machine.travel(f.utc(2026, 2, 20, 12), tick=False):
        login_client(client)
        html = client.get("/streak").get_data(as_text=True)

    def state(d):
        m = re.search(rf'data-date="{d}" data-state="(\w+)"', html)
        return m.group(1) if m else None

    assert state("2026-02-01") == "extended"
    assert state("2026-02-03") == "frozen"
    assert state("2026-02-04") == "broken"
    assert state("2026-02-06") == "extended"
    assert state("2026-02-10") == "none"
    assert state("2026-02-25") == "future"
    assert state("2025-03-01") == "none"  # twelve months shown
    assert 'data-date="2025-02-28"' not in html
    assert 'aria-label="Sunday, Feb 1, 2026: Streak extended (streak day 1)"' in html
    assert "Longest" in html and "Legend" in html


def test_achievements_page_progress_rarity_locked_and_new_once(client, db):
    user, _m, _xp = world(db)
    f.web_player("other@example.com")
    process_event("lessons", user, 45)
    login_client(client)
    html = client.get("/achievements").get_data(as_text=True)
    assert "45/100 lessons" in html
    assert re.search(r'class="ach is-new"\s+id="first"', html)
    assert "Earned by 50% of players" in html  # 1 of 2 players
    assert re.search(r'class="ach unearned locked"\s+id="soon"', html)
    # The composite's only prerequisite ("first") is held: Combo is earned, not shown as 1/1 in progress.
    assert re.search(r'id="combo" aria-labelledby="[^"]+" data-earned="yes"', html)
    c = (
        db.session.execute(db.select(AchievementCompletion).where(AchievementCompletion.user_id == user.id))
        .scalars()
        .all()
    )
    assert c and all(x.seen_at is not None for x in c)
    again = client.get("/achievements").get_data(as_text=True)
    assert "is-new" not in again


def test_hidden_achievements_show_as_question_marks_until_earned(client, db):
    """Hidden achievements: "???" and no description (nor name as another's prerequisite) until earned;
    the event that earns one reveals it; they count in rarity like any other."""
    user, m, _xp = world(db)
    secret = f.achievement(
        "night_owl",
        "metric",
        metric_id=m.id,
        threshold=50,
        name="Night Owl",
        description="Fifty lessons.",
        status="active",
        hidden=True,
    )
    f.achievement("combo2", "composite", prerequisite_ids=[secret.id], name="Owl Combo", status="active")
    db.session.commit()
    login_client(client)
    html = client.get("/achievements").get_data(as_text=True)
    assert "Night Owl" not in html and "Fifty lessons." not in html
    assert "night_owl" not in html  # not even the key (keys often give the name away)
    assert re.search(r'class="ach unearned hidden-ach" id="hidden-\d+"', html) and "??? " in html
    assert "○ ???" in html  # the composite's prerequisite stays hidden too
    body = process_event("lessons", user, 50)
    assert [a["name"] for a in body["achievements"] if a["key"] == "night_owl"] == ["Night Owl"]  # revealed
    db.session.commit()
    html = client.get("/achievements").get_data(as_text=True)
    assert "Night Owl" in html and "Fifty lessons." in html
    assert db.session.get(type(secret), secret.id).completion_count == 1  # counted for rarity


def test_points_page_history_with_boost_and_htmx_pagination(client, db):
    user, _m, xp = world(db)
    f.boost(xp, 2.0, name="Double XP")
    db.session.commit()
    for _ in range(25):
        process_event("lessons", user, 1)
    login_client(client)
    html = client.get("/points?system=xp").get_data(as_text=True)
    assert "×2" in html and "Level ladder" in html and "Page 1 of 2" in html
    part = client.get("/points?system=xp&page=2", headers={**HX, "HX-Target": "awards"})
    assert part.status_code == 200
    body = part.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="awards"') and "<html" not in body and "Page 2 of 2" in body
    assert client.get("/points?system=nope").status_code == 404


def test_points_page_without_systems_has_empty_state(client, db):
    f.web_player()
    login_client(client)
    assert "No points systems yet" in client.get("/points").get_data(as_text=True)


def test_settings_profile_update_and_validation(client, db):
    user, _m, _xp = world(db)
    token = login_client(client)
    resp = client.post("/settings", data={"display_name": "Pat Q", "timezone": "Asia/Tokyo", "csrf_token": token})
    assert resp.status_code == 302
    db.session.refresh(user)
    assert user.display_name == "Pat Q" and user.timezone == "Asia/Tokyo"
    resp = client.post("/settings", data={"display_name": "", "timezone": "Mars/Base", "csrf_token": token})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and "This field is required" in html and "Not a valid choice" in html


def test_notification_preference_toggle_persists(client, db):
    user, _m, _xp = world(db)
    token = login_client(client)
    html = client.get("/settings").get_data(as_text=True)
    assert 'name="achievement__email"' in html and "checked" in html
    data = {"csrf_token": token}
    for t in ("streak_reminder", "achievement", "recap", "level_up"):
        data[f"{t}__in_app"] = "y"
        data[f"{t}__email"] = "y"
    data.pop("achievement__email")  # switch achievement e-mails off
    resp = client.post("/settings/notifications", data=data, headers=HX)
    assert resp.status_code == 200 and "Saved" in resp.get_data(as_text=True)
    assert "toast" in resp.headers["HX-Trigger"]
    assert outbox.channel_enabled(user.id, "achievement", "email") is False
    assert outbox.channel_enabled(user.id, "achievement", "in_app") is True
    assert outbox.channel_enabled(user.id, "energy_full", "email") is False  # unticked too
    html = client.get("/settings").get_data(as_text=True)
    assert not re.search(r'<input[^>]*checked[^>]*name="achievement__email"', html)
    # Turning it back on, without HTMX, redirects with a flash.
    data["achievement__email"] = "y"
    resp = client.post("/settings/notifications", data=data)
    assert resp.status_code == 302
    assert outbox.channel_enabled(user.id, "achievement", "email") is True
    rows = (
        db.session.execute(db.select(NotificationPreference).where(NotificationPreference.user_id == user.id))
        .scalars()
        .all()
    )
    assert len({(r.type, r.channel) for r in rows}) == len(rows)


def test_set_timezone_from_browser_banner(client, db):
    user, _m, _xp = world(db)
    token = login_client(client)
    assert "data-tz-suggest" in client.get("/dashboard").get_data(as_text=True)
    resp = client.post("/settings/timezone", data={"timezone": "Europe/Paris", "csrf_token": token}, headers=HX)
    assert resp.status_code == 200 and resp.headers["HX-Refresh"] == "true"
    db.session.refresh(user)
    assert user.timezone == "Europe/Paris"
    resp = client.post("/settings/timezone", data={"timezone": "+02:00", "csrf_token": token}, headers=HX)
    assert resp.status_code == 422 and "error" in resp.headers["HX-Trigger"]


def test_notifications_bell_panel_mark_all_read_and_open(client, db):
    user, _m, _xp = world(db)
    outbox.notify(user.id, "achievement", "Achievement unlocked: First", "Well done", link="/achievements#first")
    outbox.notify(user.id, "level_up", "XP: you reached Silver!", link="/points")
    db.session.commit()
    token = login_client(client)
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'data-unread="2"' in html and "2 unread" in html
    panel = client.get("/notifications?panel=1", headers=HX).get_data(as_text=True)
    assert "Achievement unlocked: First" in panel and "Mark all read" in panel and "<html" not in panel
    count = client.get("/notifications/count?format=json").get_json()
    assert count == {"unread": 2}
    resp = client.post("/notifications/read-all", data={"view": "panel", "csrf_token": token}, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'hx-swap-oob="true"' in body and "data-unread" not in body
    assert (
        db.session.execute(db.select(db.func.count(Notification.id)).where(Notification.read_at.is_(None))).scalar()
        == 0
    )
    n = db.session.execute(db.select(Notification).order_by(Notification.id)).scalars().first()
    resp = client.get(f"/notifications/{n.id}")
    assert resp.status_code == 302 and resp.headers["Location"] == "/achievements#first"
    full = client.get("/notifications").get_data(as_text=True)
    assert "0 unread" in full and "XP: you reached Silver!" in full


def test_notifications_of_other_players_are_not_reachable(client, db):
    world(db)
    other = f.web_player("other@example.com")
    outbox.notify(other.id, "achievement", "secret")
    db.session.commit()
    login_client(client)
    n = db.session.execute(db.select(Notification)).scalars().first()
    assert client.get(f"/notifications/{n.id}").status_code == 404
    assert "secret" not in client.get("/notifications").get_data(as_text=True)


def test_admin_adjustment_shows_in_player_history_with_reason(client, db):
    user, _m, xp = world(db)
    points_svc.award(user, xp, 50, "admin", reason="Goodwill (by admin #1)", boosts=False, limits=False)
    db.session.commit()
    login_client(client)
    html = client.get("/points?system=xp").get_data(as_text=True)
    assert "Adjustment" in html and "Goodwill (by admin #1)" in html and "+50" in html
    assert db.session.execute(db.select(PointsAward)).scalars().first().trigger_type == "admin"


def test_error_pages_are_html_for_pages_and_json_for_api(client, db):
    assert "Page not found" in client.get("/nope").get_data(as_text=True)
    resp = client.get("/api/v1/nope")
    assert resp.status_code == 404 and resp.mimetype == "application/json" and "message" in resp.json["error"]
    htmx = client.get("/nope", headers={"HX-Request": "true"})
    assert htmx.status_code == 404 and "<html" not in htmx.get_data(as_text=True)  # no page in a fragment
