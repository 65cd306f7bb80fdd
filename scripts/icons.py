"""The app icons of the web app manifest (static/manifest.webmanifest), drawn from one SVG.

    .venv/bin/python scripts/icons.py [--chromium /usr/bin/chromium]

Renders the SVG below with the Chromium and Playwright the browser tests already use (no image
library needed) into static/icons/: icon-192.png and icon-512.png (purpose "any": a rounded square),
icon-maskable-192.png and icon-maskable-512.png (purpose "maskable": the background fills the square
and the flame stays inside the central 80 % safe zone that launchers may crop to a circle), and
apple-touch-icon.png (180 px, full bleed: iOS rounds the corners itself). The PNGs are committed;
run this again only when the design changes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "static" / "icons"

# The brand mark of the top bar (.brand .logo: indigo to orange) with a white flame. viewBox 0 0 100 100;
# {radius} rounds the corners (0 for full-bleed icons), {scale} shrinks the flame into a safe zone.
SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="{size}" height="{size}">
  <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
    <stop offset="0" stop-color="#6366f1"/><stop offset="1" stop-color="#f97316"/></linearGradient></defs>
  <rect width="100" height="100" rx="{radius}" fill="url(#g)"/>
  <g transform="translate(50 54) scale({scale}) translate(-50 -54)">
    <path fill="#ffffff" d="M50 12 C56 26 74 36 76 58 C78 78 64 90 50 90 C36 90 22 78 24 60
      C25 48 32 40 36 30 C40 38 42 44 46 48 C50 38 52 26 50 12 Z"/>
    <path fill="#fdba74" d="M50 50 C54 58 64 64 63 74 C62 82 56 86 50 86 C44 86 38 82 38 74
      C38 68 42 64 44 58 C46 62 48 64 50 66 C52 60 52 56 50 50 Z"/>
  </g>
</svg>"""

ICONS = [
    # (file, size, corner radius, flame scale)
    ("icon-192.png", 192, 22, 0.9),
    ("icon-512.png", 512, 22, 0.9),
    ("icon-maskable-192.png", 192, 0, 0.62),
    ("icon-maskable-512.png", 512, 0, 0.62),
    ("apple-touch-icon.png", 180, 0, 0.8),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
        for name, size, radius, scale in ICONS:
            page = browser.new_page(viewport={"width": size, "height": size}, device_scale_factor=1)
            svg = SVG.format(size=size, radius=radius, scale=scale)
            page.set_content(f"<html><body style='margin:0;background:transparent'>{svg}</body></html>")
            page.locator("svg").screenshot(path=str(OUT / name), omit_background=True)
            page.close()
            print(f"  static/icons/{name}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
