"""Keyboard-only use (WCAG 2.1.1, 2.1.2, 2.4.1, 2.4.7), announcements (4.1.3) and reduced motion (2.3.3),
in Chromium: the skip link comes first and moves the focus to <main>; every link and button shows a focus
ring (an outline, which forced-colors modes keep); the notification dropdown and the phone menu close with
Escape and give the focus back, and the dropdown does not trap it; the streak calendar moves by a day with
the arrow keys and by a month with Page Down; an energy action's result is read out by its live region; with
prefers-reduced-motion a toast neither slides nor fades."""

import re
from datetime import date, timedelta

from playwright.sync_api import expect

from gamify.services import outbox
from tests import factories as f
from tests.browser.conftest import PHONE, sign_in
from tests.browser.test_browser_pages import lesson_action, product

ACTIVE = """() => { const a = document.activeElement;
  return {tag: a.tagName, id: a.id, cls: a.className, text: (a.innerText || a.getAttribute('aria-label') || '').trim(),
          outline: getComputedStyle(a).outlineStyle, width: getComputedStyle(a).outlineWidth,
          inPanel: !!a.closest('#notif-panel'), date: a.getAttribute('data-date')}; }"""


def player_with_a_notification(db):
    product(db)
    user = f.web_player()
    outbox.notify(user.id, "achievement", "Achievement unlocked: First lesson", "Well done", link="/achievements")
    db.session.commit()
    return user


def test_skip_link_first_then_every_focus_is_visible(db, page):
    player_with_a_notification(db)
    sign_in(page)
    page.goto("/dashboard")
    page.keyboard.press("Tab")
    first = page.evaluate(ACTIVE)
    assert (first["cls"], first["text"]) == ("skip-link", "Skip to content")
    assert first["outline"] != "none"
    expect(page.locator(".skip-link")).to_be_in_viewport()  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # From the top again: each link and button reached by Tab has a visible focus ring.
    page.goto("/dashboard")
    seen = []
    for _ in range(25):
        page.keyboard.press("Tab")
        a = page.evaluate(ACTIVE)
        if a["tag"] in ("A", "BUTTON"):
            seen.append(a["text"] or a["id"])
            assert a["outline"] != "none" and a["width"] != "0px", a
    assert {"Skip to content", "Streak", "Achievements", "Log out"} <= set(seen), seen


def test_notification_dropdown_closes_with_escape_and_does_not_trap(db, page):
    player_with_a_notification(db)
    sign_in(page)
    page.goto("/dashboard")
    bell = page.locator("#bell")
    bell.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#notif-panel")
    expect(panel).to_contain_text("Achievement unlocked: First lesson")
    expect(bell).to_have_attribute("aria-expanded", "true")
    for _ in range(10):  # into the panel
        page.keyboard.press("Tab")
        if page.evaluate(ACTIVE)["inPanel"]:
            break
    assert page.evaluate(ACTIVE)["inPanel"]
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(bell).to_have_attribute("aria-expanded", "false")
    assert page.evaluate("document.activeElement.id") == "bell"  # the focus goes back to the bell
    # Open again and keep tabbing: the focus goes through the panel and out of it.
    page.keyboard.press("Enter")
    expect(bell).to_have_attribute("aria-expanded", "true")
    expect(panel).to_contain_text("Achievement unlocked")
    trail = []
    for _ in range(15):
        page.keyboard.press("Tab")
        trail.append(page.evaluate(ACTIVE)["inPanel"])
    assert True in trail, "the panel's links are reachable"
    assert trail[-1] is False, "the focus left the panel"


def test_phone_menu_closes_with_escape(db, new_page):
    product(db)
    f.web_player()
    page = new_page(PHONE)
    sign_in(page)
    toggle = page.get_by_role("button", name="Menu")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    assert page.evaluate("document.activeElement.className") == "nav-toggle"


def test_streak_calendar_arrow_keys_and_page_down(db, page):
    product(db)
    f.web_player()
    sign_in(page)
    page.goto("/streak")
    today = page.locator("[data-calendar] .day.today")
    expect(today).to_have_attribute("tabindex", "0")
    start = date.fromisoformat(today.get_attribute("data-date"))
    expect(page.locator("[data-calendar] [tabindex='0']")).to_have_count(1)  # one tab stop (roving tabindex)
    today.focus()
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(ACTIVE)["date"] == (start - timedelta(days=1)).isoformat()
    page.keyboard.press("ArrowUp")
    assert page.evaluate(ACTIVE)["date"] == (start - timedelta(days=8)).isoformat()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    assert page.evaluate(ACTIVE)["date"] == start.isoformat()
    # Page Up: a month back (same day of month, or the month's last day), Page Down: forward again.
    page.keyboard.press("PageUp")
    y, m = (start.year, start.month - 1) if start.month > 1 else (start.year - 1, 12)
    last = (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)).day
    month_back = date(y, m, min(start.day, last))
    assert page.evaluate(ACTIVE)["date"] == month_back.isoformat()
    page.keyboard.press("PageDown")
    down = page.evaluate(ACTIVE)["date"]
    assert down == date(start.year, start.month, min(month_back.day, start.day)).isoformat()
    expect(page.locator("[data-calendar] [tabindex='0']")).to_have_count(1)
    # the focused day is named by date and outcome, and shown in #cal-detail for sighted users
    label = page.locator(f"[data-date='{down}']").get_attribute("aria-label")
    assert re.search(r"\d{4}", label) and page.locator("#cal-detail").inner_text() == label


def test_energy_action_is_announced_by_the_live_region(db, page):
    lesson_action(db)
    sign_in(page)
    page.goto("/actions")
    region = page.locator("#action-result")
    expect(region).to_have_attribute("aria-live", "polite")
    page.locator("#action-lesson").get_by_role("button").first.focus()
    page.keyboard.press("Enter")
    expect(region).to_contain_text("Take a lesson: done!")
    expect(region).to_contain_text(re.compile(r"−10 energy · \d+ / \d+ left"))
    # the achievement's toast lands in the polite #toasts region
    expect(page.locator("#toasts[role=status][aria-live=polite] .toast.achievement")).to_contain_text("First lesson")


TOAST_MOTION = """() => { const t = document.querySelector('#toasts .toast'); const s = getComputedStyle(t);
  return [s.animationName, s.transitionProperty === 'none' || s.transitionDuration === '0s']; }"""


def test_toasts_do_not_move_with_reduced_motion(db, browser, live_server):
    lesson_action(db)
    results = {}
    for motion in ("no-preference", "reduce"):
        ctx = browser.new_context(base_url=live_server, reduced_motion=motion)
        try:
            page = ctx.new_page()
            sign_in(page)
            page.goto("/actions")
            page.evaluate("window.gamifyToast({message: 'Saved', timeout: 0})")
            page.evaluate("document.querySelector('#toasts .toast').classList.add('leaving')")
            results[motion] = page.evaluate(TOAST_MOTION)
        finally:
            ctx.close()
    assert results["no-preference"] == ["toast-in", False]  # the control: it slides in and fades out
    assert results["reduce"] == ["none", True]


def test_a_new_notification_is_announced_in_the_players_language(db, page):
    """The bell refreshes itself (every minute, or on "notifications-changed"); when the unread count
    changes, #announcer reads it out — in the player's language."""
    product(db)
    user = f.web_player()
    user.locale = "es"
    db.session.commit()
    sign_in(page)
    page.goto("/dashboard")
    expect(page.locator("#bell .count-pill")).to_have_count(0)
    outbox.notify(user.id, "achievement", "Achievement unlocked: First lesson", "Well done", link="/achievements")
    db.session.commit()
    page.evaluate("htmx.trigger(document.body, 'notifications-changed')")
    expect(page.locator("#bell .count-pill")).to_have_text("1")
    expect(page.locator("#announcer[role=status][aria-live=polite]")).to_have_text("Notificaciones, 1 sin leer")


def test_theme_toggle_by_keyboard_applies_without_reload_and_is_kept(db, page):
    product(db)
    f.web_player()
    sign_in(page)
    page.goto("/dashboard")
    toggle = page.locator("[data-theme-toggle]")
    expect(toggle).to_have_attribute("aria-pressed", "false")  # the context's device theme is light
    background = "getComputedStyle(document.body).backgroundColor"
    assert page.evaluate(background) == "rgb(245, 246, 250)"
    page.evaluate("window.__noReload = true")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(background) == "rgb(15, 19, 28)"  # --bg of the dark theme
    assert page.evaluate("window.__noReload") is True
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")  # stored for the player
    expect(toggle).to_have_attribute("aria-pressed", "true")


WIDE_TABLE = """() => {
  const w = document.createElement('div');
  w.className = 'table-wrap'; w.id = 'wide';
  w.innerHTML = '<table class="table"><caption>Wide figures</caption>'
    + '<tr><td style="min-width: 900px">x</td></tr></table>';
  document.querySelector('main').appendChild(w);
  w.dispatchEvent(new CustomEvent('htmx:load', {bubbles: true}));  // as htmx does for swapped-in content
}"""
WRAP = """() => { const w = document.getElementById('wide');
  return {tabindex: w.getAttribute('tabindex'), role: w.getAttribute('role'), label: w.getAttribute('aria-label')}; }"""


def test_a_table_that_scrolls_takes_the_focus_only_while_it_scrolls(db, page):
    """A table wider than the phone scrolls in its wrapper: the wrapper joins the tab order, named by the
    caption, so a keyboard can scroll it (axe: scrollable-region-focusable); on a wide screen it leaves."""
    player_with_a_notification(db)
    sign_in(page)
    page.set_viewport_size(PHONE)
    page.goto("/dashboard")
    page.evaluate(WIDE_TABLE)
    assert page.evaluate(WRAP) == {"tabindex": "0", "role": "region", "label": "Wide figures"}
    page.focus("#wide")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.getElementById('wide').scrollLeft > 0")  # the keyboard scrolls it
    page.set_viewport_size({"width": 1600, "height": 900})
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert page.evaluate(WRAP) == {"tabindex": None, "role": None, "label": None}
