"""Accessibility, measured: axe-core (vendored, tests/browser/vendor/axe) on every page a player, an admin or
an anonymous visitor can open, at desktop (1280 px) and phone (360 px) width, in the light and the dark
theme: no serious or critical violation of the WCAG 2.0/2.1/2.2 A and AA rules.

The pages come from the app's url_map: a new page fails test_every_page_is_checked until it is added to
PLAYER, ADMIN or ANONYMOUS (or to NOT_PAGES, saying why it is not a page). The demo data (gamify.demo, small)
fills every page with what a real installation shows. One browser; per theme, one context per visitor with
prefers-color-scheme set (the theme follows the device while no choice is stored; html[data-theme] selects
the same CSS, tests/integration/test_theme.py). Each URL is loaded once per theme and axe runs at both widths:
every WCAG A/AA rule in light, the colour rules in dark (the dark theme changes nothing else). The seeded
demo takes a while (the whole test about 2.5 min), so this runs once, in the SQLite run of make test.

A11Y_REPORT=file writes the violations and the time each page took; A11Y_ONLY=player|admin|anonymous
checks one visitor's pages (while fixing)."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, sign_in

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# Every GET route a browser opens as a page, by endpoint, for the visitor who sees it.
PLAYER = [
    "player.dashboard",
    "player.streak",
    "player.achievements",
    "player.points",
    "player.settings",
    "player.notifications",
    "energy.actions",
    "energy.page",
    "energy.friends_page",
    "leaderboards.index",
    "leaderboards.run",
    "wrapped.mine",
    "wrapped.year",
]
ADMIN = [
    "admin.index",
    "admin.achievements",
    "admin.achievement_edit",
    "admin.achievement_new",
    "admin.analytics",
    "admin.analytics_trends",
    "admin.analytics_retention_page",
    "admin.analytics_funnels_page",
    "admin.analytics_points_page",
    "admin.api_keys",
    "admin.backfill_status",
    "admin.metrics",
    "admin.metric_edit",
    "admin.metric_new",
    "admin.players",
    "admin.player",
    "admin.points_systems",
    "admin.points_system",
    "admin.points_boost",
    "admin.points_level",
    "admin.points_trigger",
    "admin.points_system_new",
    "admin.streak_config",
    "admin_energy.actions",
    "admin_energy.action_form",
    "admin_energy.settings",
    "admin_energy.boosts",
    "admin_energy.boost_form",
    "admin_energy.flags",
    "admin_jobs.index",
    "admin_jobs.notifications",
    "admin_leaderboards.index",
    "admin_leaderboards.edit",
    "admin_leaderboards.new",
    "admin_templates.index",
    "admin_templates.edit",
    "admin_templates.edit_default",
    "admin_templates.new_scoped",
    "admin_webhooks.index",
    "admin_webhooks.endpoint",
]
ANONYMOUS = ["auth.login", "auth.signup", "links.unsubscribe", "links.open", "wrapped.shared"]
NOT_PAGES = {
    "player.index": "redirects to the dashboard or the login",
    "player.open_notification": "marks read and redirects to the notification's link",
    "player.notifications_count": "HTMX partial (the bell), checked inside every player page",
    "energy.bar": "HTMX partial (the energy bar), checked inside the energy and actions pages",
    "leaderboards.panel": "HTMX partial, checked inside the leaderboards page",
    "ops.healthz": "JSON",
    "ops.readyz": "JSON",
    "ops.scrape": "Prometheus text",
    "static": "files",
    "push.service_worker": "the service worker (JavaScript)",
    "admin.analytics_trends_csv": "CSV download",
    "admin.analytics_retention_csv": "CSV download",
    "admin.analytics_funnels_csv": "CSV download",
    "admin.analytics_points_csv": "CSV download",
}


def _first(db, model, *where):
    q = db.select(model)
    for w in where:
        q = q.where(w)
    return db.session.execute(q.order_by(model.id).limit(1)).scalar_one()


def demo_world(db, tmp_path) -> dict[str, list[str]]:
    """The demo data, and the URL of each page listed above (path parameters from the seeded rows)."""
    from flask import current_app

    from gamify import demo, links
    from gamify.models import (
        Achievement,
        BackfillRun,
        EnergyAction,
        EnergyBoost,
        Leaderboard,
        LeaderboardRun,
        Metric,
        NotificationTemplate,
        PointsLevel,
        PointsSystem,
        PointsTrigger,
        User,
        WebhookEndpoint,
    )
    from gamify.models._common import utcnow
    from gamify.services import backfill
    from gamify.services.leaderboards import finalise as leaderboards_finalise

    demo.seed(players=8, days=10, echo=lambda *a: None, mail_dir=tmp_path)
    me = _first(db, User, User.email == demo.DEMO_EMAIL)
    ach = _first(db, Achievement)
    if db.session.execute(db.select(BackfillRun).limit(1)).first() is None:
        backfill.run_inline(ach, None)
    system = _first(db, PointsSystem)
    # the current periods as if they had ended: their runs (the history page)
    leaderboards_finalise.finalise_due(utcnow() + timedelta(days=32))
    run = _first(db, LeaderboardRun)
    board = db.session.get(Leaderboard, run.leaderboard_id)
    template = db.session.execute(db.select(NotificationTemplate).limit(1)).scalar_one_or_none()
    if template is None:
        template = NotificationTemplate(type="recap", channel="email", subject="Hi {{ name }}", text="Your week")
        db.session.add(template)
        db.session.flush()
    webhook = db.session.execute(db.select(WebhookEndpoint).limit(1)).scalar_one_or_none()
    level = _first(db, PointsLevel, PointsLevel.system_id == system.id)
    trigger = _first(db, PointsTrigger, PointsTrigger.system_id == system.id)
    year = run.period_start.year if run.period_start else 2026
    paths = {
        "player.dashboard": "/dashboard",
        "player.streak": "/streak",
        "player.achievements": "/achievements",
        "player.points": "/points",
        "player.settings": "/settings",
        "player.notifications": "/notifications",
        "energy.actions": "/actions",
        "energy.page": "/energy",
        "energy.friends_page": "/friends",
        "leaderboards.index": "/leaderboards",
        "leaderboards.run": f"/leaderboards/{board.key}/runs/{run.period_start.isoformat()}",
        "wrapped.mine": "/wrapped",
        "wrapped.year": f"/wrapped/{year}",
        "admin.index": "/admin/",
        "admin.achievements": "/admin/achievements",
        "admin.achievement_edit": f"/admin/achievements/{ach.id}",
        "admin.achievement_new": "/admin/achievements/new",
        "admin.analytics": "/admin/analytics",
        "admin.analytics_trends": "/admin/analytics/trends",
        "admin.analytics_retention_page": "/admin/analytics/retention",
        "admin.analytics_funnels_page": "/admin/analytics/funnels",
        "admin.analytics_points_page": "/admin/analytics/points",
        "admin.api_keys": "/admin/api-keys",
        "admin.backfill_status": f"/admin/backfills/{_first(db, BackfillRun).id}",
        "admin.metrics": "/admin/metrics",
        "admin.metric_edit": f"/admin/metrics/{_first(db, Metric).id}/edit",
        "admin.metric_new": "/admin/metrics/new",
        "admin.players": "/admin/players",
        "admin.player": f"/admin/players/{me.id}",
        "admin.points_systems": "/admin/points",
        "admin.points_system": f"/admin/points/{system.id}",
        "admin.points_boost": f"/admin/points/{system.id}/boosts/new",  # the demo has no points boost
        "admin.points_level": f"/admin/points/{system.id}/levels/{level.id}",
        "admin.points_trigger": f"/admin/points/{system.id}/triggers/{trigger.id}",
        "admin.points_system_new": "/admin/points/new",
        "admin.streak_config": "/admin/streak",
        "admin_energy.actions": "/admin/actions",
        "admin_energy.action_form": f"/admin/actions/{_first(db, EnergyAction).id}",
        "admin_energy.settings": "/admin/energy",
        "admin_energy.boosts": "/admin/energy/boosts",
        "admin_energy.boost_form": f"/admin/energy/boosts/{_first(db, EnergyBoost).id}",
        "admin_energy.flags": "/admin/energy/flags",
        "admin_jobs.index": "/admin/jobs",
        "admin_jobs.notifications": "/admin/notifications",
        "admin_leaderboards.index": "/admin/leaderboards/",
        "admin_leaderboards.edit": f"/admin/leaderboards/{board.id}/edit",
        "admin_leaderboards.new": "/admin/leaderboards/new",
        "admin_templates.index": "/admin/templates/",
        "admin_templates.edit": f"/admin/templates/{template.id}",
        "admin_templates.edit_default": "/admin/templates/streak_reminder/email",
        "admin_templates.new_scoped": "/admin/templates/achievement/push/new",
        "admin_webhooks.index": "/admin/webhooks/",
        "admin_webhooks.endpoint": f"/admin/webhooks/{webhook.id}" if webhook else None,
        "auth.login": "/login",
        "auth.signup": "/signup",
        "links.unsubscribe": f"/unsubscribe/{links.unsubscribe_token(me.id, 'recap')}",
        "links.open": "/l/streak/not-a-valid-token",  # the page saying the link is invalid
        "wrapped.shared": f"/wrapped/shared/{links.wrapped_token(me.id, year)}",
    }
    db.session.commit()
    # Pages of features still on their way to main (listed ahead, checked once their routes exist).
    present = {r.endpoint for r in current_app.url_map.iter_rules()}
    pages = {
        who: [paths[e] for e in endpoints if paths[e] and e in present]
        for who, endpoints in (("player", PLAYER), ("admin", ADMIN), ("anonymous", ANONYMOUS))
    }
    pages["anonymous"].append("/no-such-page")  # the error page
    return pages


def test_every_page_is_checked(app):
    listed = set(PLAYER) | set(ADMIN) | set(ANONYMOUS) | set(NOT_PAGES)
    gets = {
        r.endpoint
        for r in app.url_map.iter_rules()
        if "GET" in r.methods and not r.rule.startswith(("/api/", "/trophy/"))
    }
    assert gets - listed == set(), "new pages: add them to PLAYER, ADMIN or ANONYMOUS here (or NOT_PAGES, saying why)"


# Loaded, and the HTMX requests the page makes by itself (hx-trigger="load") answered and swapped in
# (cheaper than waiting for "networkidle", which costs half a second a page).
SETTLED = "() => window.htmx && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
NEXT_FRAME = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
BACKGROUND = {"light": "rgb(245, 246, 250)", "dark": "rgb(15, 19, 28)"}  # --bg in static/css/app.css

# The dark theme changes only colours: there, the rules about colour (the rest gives what it gave in light).
COLOUR_RULES = ["color-contrast", "link-in-text-block"]

AXE_RUN = """async (only) => {
  const r = await axe.run(document, {runOnly: only, resultTypes: ['violations']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map(
      n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 240)),
    count: v.nodes.length,
  }));
}"""


def check(page, path: str, found: list, timings: dict) -> None:
    t0 = time.monotonic()
    page.set_viewport_size(DESKTOP)
    resp = page.goto(path)
    assert resp.status < 500, f"{path}: {resp.status}"
    page.wait_for_function(SETTLED)
    # the theme asked for is the one shown (the page's background from light-dark())
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUND[page.scheme], path
    t1 = time.monotonic()
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        page.evaluate(NEXT_FRAME)  # the page's resize handlers ran (app.js: scrollable tables take the focus)
        only = {"type": "tag", "values": TAGS} if page.scheme == "light" else {"type": "rule", "values": COLOUR_RULES}
        for v in page.evaluate(AXE_RUN, only):
            found.append(
                f"{path} [{viewport['width']}px {page.scheme}] {v['impact']} {v['id']}: {v['help']} "
                f"({v['count']} nodes) {json.dumps(v['nodes'], ensure_ascii=False)}"
            )
    timings[f"{path} {page.scheme}"] = (round(t1 - t0, 2), round(time.monotonic() - t1, 2))


@pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")),
    reason="the pages are the same on both databases: checked once, in the SQLite run of make test",
)
def test_no_serious_or_critical_axe_violations(db, browser, live_server, tmp_path):
    from gamify import demo

    pages = demo_world(db, tmp_path)
    only = os.environ.get("A11Y_ONLY")  # e.g. "player": while fixing, check one visitor's pages
    found: list[str] = []
    timings: dict = {}
    for scheme in ("light", "dark"):
        for who, creds in (
            ("anonymous", None),
            ("player", (demo.DEMO_EMAIL, demo.DEMO_PASSWORD)),
            ("admin", (demo.ADMIN_EMAIL, demo.ADMIN_PASSWORD)),
        ):
            if only and who != only:
                continue
            # The theme follows the device while no choice is stored: prefers-color-scheme, set for the
            # context (changing it on a loaded page leaves some light-dark() colours unresolved in Chromium).
            ctx = browser.new_context(
                base_url=live_server, viewport=DESKTOP, color_scheme=scheme, reduced_motion="reduce", locale="en-US"
            )
            # axe in every page of the context: init scripts are not subject to the page's
            # Content-Security-Policy (script-src 'self'), and the source crosses to Chromium once.
            ctx.add_init_script(script=AXE_SOURCE)
            try:
                page = ctx.new_page()
                page.scheme = scheme
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                if creds:
                    sign_in(page, *creds)
                for path in pages[who]:
                    check(page, path, found, timings)
                assert errors == [], errors
            finally:
                ctx.close()
    report = os.environ.get("A11Y_REPORT")
    if report:
        Path(report).write_text("\n".join(found) + "\n\n" + json.dumps(timings, indent=1))
    assert not found, f"{len(found)} axe violations:\n" + "\n".join(found)


def test_longer_words_wrap_instead_of_scrolling_sideways(db, page):
    """Spanish labels are longer (the top bar's links in particular): at desktop width the top bar wraps
    rather than pushing the page wider than the window (WCAG 1.4.10; found on the Spanish screenshots)."""
    from tests import factories as f
    from tests.browser.test_browser_pages import product

    product(db)
    user = f.web_player()
    user.locale = "es"
    db.session.commit()
    sign_in(page)
    for path in ("/dashboard", "/streak"):
        page.goto(path)
        expect(page.get_by_role("link", name="Racha").first).to_be_visible()  # in Spanish
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= DESKTOP["width"], f"{path}: {width}px wide at {DESKTOP['width']}px"
