"""Every admin route refuses players and anonymous visitors; every HTML POST needs a CSRF token."""

import re

import pytest

from tests import factories as f

# One-click unsubscribe (RFC 8058) is posted by mail providers, which cannot send a CSRF token.
CSRF_EXEMPT = {"links.unsubscribe"}


def _sample(rule) -> str:
    path = rule.rule
    for arg in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{arg}>", "1", path)
    return path


def _rules(app, prefix=None, method="GET"):
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or method not in (rule.methods or ()):
            continue
        if prefix and not rule.rule.startswith(prefix):
            continue
        out.append(rule)
    return out


def test_there_are_many_admin_routes(app):
    assert len(_rules(app, "/admin")) >= 20


def test_every_admin_route_refuses_players_and_anonymous(app, client, db):
    f.web_player()
    anon = app.test_client()
    f.login(client)
    token = f.csrf_token(client, "/dashboard")
    failures = []
    for method in ("GET", "POST"):
        for rule in _rules(app, "/admin", method):
            path = _sample(rule)
            kw = {"data": {"csrf_token": token}} if method == "POST" else {}
            r = client.open(path, method=method, **kw)
            if r.status_code != 403:
                failures.append((method, path, "player", r.status_code))
            r = anon.open(path, method=method, **({"data": {"csrf_token": token}} if method == "POST" else {}))
            if r.status_code not in (302, 400):  # redirect to login (or CSRF refusal before it)
                failures.append((method, path, "anonymous", r.status_code))
            elif r.status_code == 302 and "/login" not in r.headers["Location"]:
                failures.append((method, path, "anonymous redirect", r.headers["Location"]))
    assert not failures, failures


def test_every_html_post_rejects_a_missing_csrf_token(app, client, db):
    admin = f.admin()
    f.login(client, admin.email)
    failures = []
    for rule in _rules(app, None, "POST"):
        if rule.rule.startswith(("/api/", "/trophy/")) or rule.endpoint in CSRF_EXEMPT:  # key-authenticated JSON
            continue
        r = client.post(_sample(rule), data={"x": "1"})
        if r.status_code != 400:
            failures.append((rule.rule, r.status_code))
        # HTMX requests carry the token in a header; a wrong one is refused too.
        r = client.post(_sample(rule), data={"x": "1"}, headers={"HX-Request": "true", "X-CSRFToken": "forged"})
        if r.status_code != 400:
            failures.append((rule.rule, "forged header", r.status_code))
    assert not failures, failures


def test_player_pages_need_login(app):
    anon = app.test_client()
    for path in (
        "/dashboard",
        "/streak",
        "/achievements",
        "/points",
        "/settings",
        "/energy",
        "/actions",
        "/friends",
        "/leaderboards",
        "/notifications",
    ):
        r = anon.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
