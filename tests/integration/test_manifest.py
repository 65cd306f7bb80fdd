"""Installable app: the web app manifest is served as application/manifest+json, linked from every
page, and each icon it declares exists with the declared size (read from the PNG header)."""

import json
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first one, right after the 8-byte signature)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def test_manifest_is_served_with_its_content_type(client, db):
    resp = client.get("/static/manifest.webmanifest")
    assert resp.status_code == 200
    assert resp.mimetype == "application/manifest+json"
    doc = json.loads(resp.get_data())
    # what Chromium asks of an installable app
    assert doc["name"] and doc["short_name"] and doc["start_url"] == "/" and doc["display"] == "standalone"


def test_every_page_links_the_manifest(client, db):
    for path in ("/login", "/signup"):
        html = client.get(path).get_data(as_text=True)
        assert '<link rel="manifest" href="/static/manifest.webmanifest">' in html, path
        assert '<link rel="apple-touch-icon" href="/static/icons/apple-touch-icon.png">' in html, path


def test_icons_exist_with_the_declared_sizes(client, db):
    doc = json.loads(client.get("/static/manifest.webmanifest").get_data())
    icons = doc["icons"]
    purposes = {(i["purpose"], i["sizes"]) for i in icons}
    # 192 and 512 px, plain and maskable (Android's adaptive icons)
    assert {("any", "192x192"), ("any", "512x512"), ("maskable", "192x192"), ("maskable", "512x512")} <= purposes
    for icon in icons:
        resp = client.get(icon["src"])
        assert resp.status_code == 200, icon["src"]
        assert resp.mimetype == icon["type"] == "image/png"
        w, h = (int(n) for n in icon["sizes"].split("x"))
        assert png_size(resp.get_data()) == (w, h), icon["src"]


def test_apple_touch_icon_is_180px():
    data = (ROOT / "static" / "icons" / "apple-touch-icon.png").read_bytes()
    assert png_size(data) == (180, 180)
