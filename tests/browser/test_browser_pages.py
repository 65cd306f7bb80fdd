"""End-to-end: a player and an admin in Chromium against the real app (HTMX included)."""

import re
from datetime import timedelta

from playwright.sync_api import expect

from gamify.models import Achievement, AchievementCompletion, EnergyAction, NotificationPreference
from gamify.models._common import utcnow
from gamify.services import outbox
from gamify.services.events import process_event
from tests import factories as f
from tests.browser.conftest import PHONE, sign_in


def product(db):
    m = f.metric("lessons", "Lessons", "lessons")
    f.streak({m: 1}, freeze_initial=1, freeze_max=3)
    xp = f.system("xp", levels=[("bronze", "Bronze", 0), ("silver", "Silver", 100)], name="XP", badge="⚡")
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.achievement("first", "metric", metric_id=m.id, threshold=1, name="First lesson", badge="🎉")
    db.session.commit()
    return m, xp


def test_sign_in_and_see_the_dashboard(db, page):
    product(db)
    f.web_player()
    sign_in(page)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", name=re.compile("Hi Pat"))).to_be_visible()
    expect(page.locator("#streak-card")).to_contain_text("Start a new streak today")
    expect(page.locator("#points-card-xp")).to_contain_text("Bronze")
    assert page.js_errors == []


def test_wrong_password_shows_an_error(db, page):
    f.web_player()
    page.goto("/login")
    page.get_by_label("Email").fill("player@example.com")
    page.get_by_label("Password").fill("nope")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")


def test_phone_nav_collapses_and_opens(db, new_page):
    product(db)
    f.web_player()
    page = new_page(PHONE)
    sign_in(page)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    toggle = page.get_by_role("button", name="Menu")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    nav.get_by_role("link", name="Streak").click()
    expect(page).to_have_url(re.compile(r"/streak$"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page scrolls sideways at phone width ({width}px)"


def test_open_the_streak_calendar(db, page):
    product(db)
    user = f.web_player()
    now = utcnow()
    for days_ago in (6, 5, 4, 1, 0):
        process_event("lessons", user, 1, now=now - timedelta(days=days_ago))
    db.session.commit()
    sign_in(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Streak").click()
    expect(page.get_by_role("heading", name="Your streak")).to_be_visible()
    cal = page.locator(".months")
    expect(cal.locator(".day.extended")).to_have_count(5)
    expect(cal.locator(".day.frozen")).to_have_count(1)
    expect(cal.locator(".day.broken")).to_have_count(1)
    today = cal.locator(".day.today")
    expect(today).to_have_attribute("title", re.compile(r"Streak extended \(streak day 2\)"))
    expect(page.locator(".month")).to_have_count(12)
    expect(page.locator(".countdown").first).to_have_text(re.compile(r"\d+h \d\dm \d\ds"))
    assert page.js_errors == []


def test_notifications_dropdown_and_mark_all_read(db, page):
    product(db)
    user = f.web_player()
    outbox.notify(user.id, "achievement", "Achievement unlocked: First lesson", "Well done", link="/achievements")
    db.session.commit()
    sign_in(page)
    bell = page.locator("#bell")
    expect(bell.locator(".count-pill")).to_have_text("1")
    bell.click()
    panel = page.locator("#notif-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Achievement unlocked: First lesson")
    expect(bell).to_have_attribute("aria-expanded", "true")
    panel.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#bell .count-pill")).to_have_count(0)
    expect(page.locator("#toasts .toast")).to_contain_text("Marked 1 notification as read")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()


def test_notification_preference_saves_on_click(db, page):
    product(db)
    user = f.web_player()
    sign_in(page)
    page.goto("/settings")
    box = page.get_by_label("Weekly recap — Email")
    expect(box).to_be_checked()
    box.uncheck()
    expect(page.locator("#prefs .saved-note")).to_have_text("✓ Saved")
    db.session.rollback()
    assert outbox.channel_enabled(user.id, "recap", "email") is False
    db.session.rollback()
    page.reload()
    expect(page.get_by_label("Weekly recap — Email")).not_to_be_checked()
    assert db.session.execute(db.select(NotificationPreference)).first() is not None
    db.session.rollback()


def test_admin_creates_an_achievement_and_activates_it(db, page):
    m, _xp = product(db)
    holder = f.web_player("keen@example.com", name="Keen")
    f.web_player("new@example.com", name="New")
    process_event("lessons", holder, 12)
    db.session.commit()
    f.admin()
    sign_in(page, "admin@example.com")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    page.get_by_role("navigation", name="Admin sections").get_by_role("link", name="Achievements").click()
    page.get_by_role("link", name="New achievement").first.click()
    page.get_by_label("Name").fill("Ten lessons")
    page.get_by_label("Key").fill("ten_lessons")
    page.get_by_label("Description").fill("Finish ten lessons")
    page.get_by_label("Badge").fill("🔟")
    page.get_by_label("Earned when").select_option("streak")
    expect(page.get_by_label("Streak length")).to_be_visible()
    expect(page.get_by_label("Threshold")).to_be_hidden()
    page.get_by_label("Earned when").select_option("metric")
    page.get_by_label("Metric", exact=True).select_option(label="Lessons (lessons)")
    page.get_by_label("Threshold").fill("10")
    page.get_by_role("button", name="Save and activate").click()
    expect(page.locator(".flash-success")).to_contain_text("1 player already qualified")
    expect(page.locator("#ach-status")).to_have_text("active")
    expect(page.locator("[data-backfill-added]")).to_have_text("1")
    db.session.rollback()
    a = db.session.execute(db.select(Achievement).where(Achievement.key == "ten_lessons")).scalar_one()
    done = (
        db.session.execute(db.select(AchievementCompletion).where(AchievementCompletion.achievement_id == a.id))
        .scalars()
        .all()
    )
    assert [c.user_id for c in done] == [holder.id] and done[0].backdated
    db.session.rollback()
    assert page.js_errors == []


def test_admin_form_errors_are_shown_next_to_fields(db, page):
    product(db)
    f.admin()
    sign_in(page, "admin@example.com")
    page.goto("/admin/achievements/new")
    page.get_by_label("Name").fill("Broken")
    page.get_by_label("Key").fill("Broken Key")
    page.get_by_role("button", name="Save as draft").click()
    key = page.get_by_label("Key")
    expect(key).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#key-error")).to_contain_text("Use lowercase letters")
    expect(page.locator("#metric_id-error")).to_contain_text("Choose the metric")


def lesson_action(db):
    """The product, a signed-up player and one energy action: "Take a lesson" (10 energy, 1 lesson)."""
    product(db)
    f.web_player()
    db.session.add(
        EnergyAction(
            key="lesson",
            name="Take a lesson",
            base_cost=10,
            metric_key="lessons",
            metric_value=1,
            difficulties={},
            skill_reductions={},
        )
    )
    db.session.commit()


def test_perform_an_action_updates_energy_and_xp_without_reload_and_toasts(db, page):
    lesson_action(db)
    sign_in(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Actions").click()
    bar = page.locator("#energy-bar")
    before = int(bar.locator(".energy-current").inner_text())
    page.evaluate("window.__noReload = true")
    page.locator("#action-lesson").get_by_role("button").first.click()
    result = page.locator("#action-result")
    expect(result).to_contain_text("+10 xp")
    expect(page.locator("#energy-bar .energy-current")).to_have_text(str(before - 10))
    expect(page.locator("#toasts .toast.achievement")).to_contain_text("First lesson")
    assert page.evaluate("window.__noReload") is True
    page.goto("/dashboard")
    expect(page.locator("#points-card-xp [data-points-total]")).to_have_text("10")


def test_main_pages_fit_a_phone_screen(db, new_page):
    """No sideways scrolling at 360px: wide tables scroll inside their own box."""
    m, xp = product(db)
    f.boost(xp, 2.0, name="Double XP")
    user = f.web_player()
    for days_ago in range(30, -1, -3):
        process_event("lessons", user, 2, now=utcnow() - timedelta(days=days_ago))
    outbox.notify(user.id, "achievement", "Achievement unlocked: First lesson with a rather long title to wrap")
    f.admin()
    xp_id, user_id = xp.id, user.id
    db.session.commit()  # release SQLite's write lock before the server needs it
    script = "document.documentElement.scrollWidth"
    page = new_page(PHONE)
    sign_in(page)
    for path in ("/dashboard", "/streak", "/achievements", "/points", "/settings", "/notifications", "/wrapped"):
        page.goto(path)
        assert page.evaluate(script) <= PHONE["width"], path
    admin = new_page(PHONE)
    sign_in(admin, "admin@example.com")
    for path in (
        "/admin/",
        "/admin/metrics",
        "/admin/streak",
        "/admin/achievements",
        "/admin/achievements/new",
        "/admin/points",
        f"/admin/points/{xp_id}",
        f"/admin/points/{xp_id}?tab=triggers",
        f"/admin/points/{xp_id}?tab=boosts",
        "/admin/players",
        f"/admin/players/{user_id}",
        f"/admin/players/{user_id}?tab=points",
        "/admin/analytics",
        "/admin/api-keys",
    ):
        admin.goto(path)
        assert admin.evaluate(script) <= PHONE["width"], path
    assert page.js_errors == [] and admin.js_errors == []


def test_scripts_run_under_the_strict_policy(db, page):
    """No inline script may run (script-src 'self'): the behaviour that used inline handlers (the
    admin player page's tabs, confirmation before deleting) works from static/js, and the fixture
    fails the test on any policy violation."""
    from gamify.services import leaderboards

    m, _xp = product(db)
    player = f.web_player()
    process_event("lessons", player, 2)
    leaderboards.create(
        {
            "key": "lb",
            "name": "Weekly lessons",
            "ranked_by": "metric",
            "metric_id": m.id,
            "frequency": "perpetual",
            "participant_limit": 10,
            "breakdown": [],
        }
    )
    db.session.commit()
    f.admin()
    pid = player.id
    db.session.rollback()  # no read transaction of ours may hold SQLite's lock while the server writes
    sign_in(page, "admin@example.com")
    response = page.goto(f"/admin/players/{pid}")
    assert "'unsafe-inline'" not in response.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    tabs = page.get_by_role("navigation", name="History")
    tabs.get_by_role("link", name="Points").click()
    expect(tabs.get_by_role("link", name="Points")).to_have_attribute("aria-current", "page")
    expect(tabs.locator("[aria-current]")).to_have_count(1)

    page.goto("/admin/leaderboards/")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.locator("form[data-confirm] button").first.click()
    expect(page.get_by_text("Weekly lessons").first).to_be_visible()  # dismissed: nothing deleted
    assert asked == ["Delete Weekly lessons with its history?"]
    db.session.rollback()
    assert leaderboards.by_key("lb", active_only=False) is not None
    assert page.js_errors == []
