"""Browser tests: the real app served on 127.0.0.1 (`live_server`, tests/conftest.py) on the test
database, driven by Playwright with Debian's Chromium.

The server (tests/conftest.py's `live_server`) serves the session app (`_app`), so the per-test `app`
fixture still empties the database after each test. Test code must commit (or roll back) before
driving the browser: with SQLite every transaction takes the write lock (BEGIN IMMEDIATE)."""

import os

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        # Fail, not skip: a missing browser must not let the browser tests pass unnoticed.
        pytest.fail(f"{CHROMIUM} missing: run `bash scripts/chromium.sh` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, app, live_server):
    """new_page(viewport=DESKTOP) -> a Page in a fresh context (own cookies) on the live server."""
    contexts = []

    def make(viewport=None, timezone_id="UTC"):
        ctx = browser.new_context(
            base_url=live_server, viewport=viewport or DESKTOP, timezone_id=timezone_id, locale="en-US"
        )
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(10_000)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.js_errors = errors
        # Every page of every browser test is also a check of the Content-Security-Policy: Chromium
        # reports what the policy blocked (an inline script or handler, eval) on the console.
        page.on(
            "console",
            lambda m: violations.append(m.text) if m.type == "error" and "Content Security Policy" in m.text else None,
        )
        return page

    violations: list[str] = []
    yield make
    for ctx in contexts:
        ctx.close()
    assert not violations, f"blocked by the Content-Security-Policy: {violations}"


@pytest.fixture
def page(new_page):
    return new_page()


def sign_in(page, email="player@example.com", password="correct horse"):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
