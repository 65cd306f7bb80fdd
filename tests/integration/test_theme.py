"""The light/dark toggle (gamify/web/theme.py): POST /theme stores a player's choice on the user and
everyone's in a cookie; the page shell renders it as html[data-theme]."""

import json
import re

from gamify.models import User
from tests import factories as f

HX = {"HX-Request": "true"}


def data_theme(html: str):
    """The data-theme attribute of the <html> element (None when absent: follow the device)."""
    tag = re.search(r"<html\b[^>]*>", html).group(0)
    m = re.search(r'data-theme="([^"]*)"', tag)
    return m.group(1) if m else None


def theme_cookie(resp):
    return [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("theme=")]


def test_anonymous_choice_is_kept_in_a_cookie_and_rendered(client, db):
    token = f.csrf_token(client, "/login")
    assert data_theme(client.get("/login").get_data(as_text=True)) is None  # no choice: the device decides
    resp = client.post("/theme", data={"theme": "dark", "csrf_token": token, "next": "/signup"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/signup"
    (cookie,) = theme_cookie(resp)
    assert cookie.startswith("theme=dark;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    html = client.get("/login").get_data(as_text=True)
    assert data_theme(html) == "dark"
    assert '<meta name="color-scheme" content="dark">' in html
    # the toggle now offers the other theme and says it is pressed
    assert re.search(r'value="light" data-theme-toggle\s+aria-pressed="true"', html)


def test_a_players_choice_is_stored_on_the_user_and_follows_them(client, db, app):
    user = f.web_player()
    f.login(client)
    token = f.csrf_token(client, "/dashboard")
    resp = client.post("/theme", data={"theme": "dark", "csrf_token": token, "next": "/streak"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/streak"
    db.session.expire_all()
    assert db.session.get(User, user.id).theme == "dark"
    # another device (no cookie): the stored choice is rendered after signing in
    other = app.test_client()
    f.login(other)
    assert data_theme(other.get("/dashboard").get_data(as_text=True)) == "dark"
    # the stored choice wins over a stale cookie
    other.set_cookie("theme", "light")
    assert data_theme(other.get("/dashboard").get_data(as_text=True)) == "dark"


def test_system_forgets_the_choice(client, db):
    user = f.web_player()
    f.login(client)
    token = f.csrf_token(client, "/dashboard")
    client.post("/theme", data={"theme": "light", "csrf_token": token})
    assert data_theme(client.get("/dashboard").get_data(as_text=True)) == "light"
    resp = client.post("/theme", data={"theme": "system", "csrf_token": token})
    assert resp.status_code == 302
    (cookie,) = theme_cookie(resp)
    assert "Max-Age=0" in cookie or "expires=Thu, 01 Jan 1970" in cookie  # deleted
    db.session.expire_all()
    assert db.session.get(User, user.id).theme is None
    html = client.get("/dashboard").get_data(as_text=True)
    assert data_theme(html) is None and '<meta name="color-scheme" content="light dark">' in html


def test_htmx_toggle_answers_with_the_event_and_no_redirect(client, db):
    f.web_player()
    f.login(client)
    token = f.csrf_token(client, "/dashboard")
    resp = client.post("/theme", data={"theme": "dark", "csrf_token": token}, headers=HX)
    assert resp.status_code == 200 and resp.get_data() == b""
    assert json.loads(resp.headers["HX-Trigger"])["theme-changed"] == {"theme": "dark"}
    assert theme_cookie(resp)[0].startswith("theme=dark;")


def test_csrf_token_is_required(client, db):
    user = f.web_player()
    f.login(client)
    resp = client.post("/theme", data={"theme": "dark"})
    assert resp.status_code == 400
    assert not theme_cookie(resp)
    db.session.expire_all()
    assert db.session.get(User, user.id).theme is None


def test_an_unknown_theme_is_refused_naming_the_field(client, db):
    user = f.web_player()
    f.login(client)
    token = f.csrf_token(client, "/dashboard")
    for bad in ("purple", "", "DARK"):
        resp = client.post("/theme", data={"theme": bad, "csrf_token": token})
        assert resp.status_code == 400, bad
        body = resp.get_json()
        assert body["field"] == "theme" and body["error"].startswith("theme: must be one of light, dark, system")
        assert not theme_cookie(resp)
    db.session.expire_all()
    assert db.session.get(User, user.id).theme is None


def test_next_never_leaves_the_site(client, db):
    token = f.csrf_token(client, "/login")
    resp = client.post("/theme", data={"theme": "dark", "csrf_token": token, "next": "//evil.example/x"})
    assert resp.status_code == 302 and "evil.example" not in resp.headers["Location"]
