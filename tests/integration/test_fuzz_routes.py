"""No input gives a 5xx, on any route: every URL rule of the app, as the role that may use it and as a
stranger, with hostile values in every field the route's own pages send (forms found by crawling the
pages), in every query parameter it reads and in its path arguments. Two tests:

- every hostile value of HOSTILE (the classes that once gave 500s: NUL bytes, lone surrogates, Unicode
  digits, numbers past any database integer, 1e308, NaN, overlong text, dates at the calendar's ends,
  time zones that are not places, deep JSON) in every field of every route, deterministically;
- a property test drawing routes and per-field values at random (seeded in `make test`).

A new route is covered without editing this file; only its path arguments may need an entry in ID_TABLES.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamify import demo
from gamify.models import ROLE_ADMIN, User
from tests.hypo import examples

HOSTILE = [
    "\x00",
    "a\x00b",
    "\ud800",
    "²",
    "٣",
    "-1",
    "0",
    "9" * 25,
    str(2**31),
    str(2**63),
    "1" * 400,
    "1e308",
    "-1e308",
    "NaN",
    "Infinity",
    "x" * 5000,
    "",
    " ",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "2026-13-45",
    "localtime",
    "Factory",
    "posixrules",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "%00",
]
DEEP_BODY = '{"user": {"id": "u", "attributes": {"a": ' + "[" * 1000 + "]" * 1000 + "}}}"

# <int:...> path arguments: the table whose first row the route is tried with (and a missing id).
ID_TABLES = {
    "key_id": "api_keys",
    "metric_id": "metrics",
    "req_id": "streak_requirements",
    "achievement_id": "achievements",
    "run_id": "backfill_runs",
    "system_id": "points_systems",
    "level_id": "points_levels",
    "trigger_id": "points_triggers",
    "boost_id": "points_boosts",
    "user_id": "users",
    "nid": "notifications",
    "endpoint_id": "webhook_endpoints",
    "delivery_id": "webhook_deliveries",
    "send_id": "email_sends",
    "gift_id": "energy_gifts",
    "fid": "friendships",
    "action_id": "energy_actions",
    "review_id": "energy_reviews",
    "board_id": "leaderboards",
}
# String path arguments: a real value for the route (by path prefix), before hostile ones.
STRING_ARGS = {
    "external_id": "player-0001",
    "system_key": "xp",
    "purpose": "streak",
    "token": "x",
    "job_id": "x",
    "name": "dispatch_outbox",
    "period_start": "2026-01-05",
}
KEYS = [
    ("/api/v1/metrics/", "lessons_completed"),
    ("/api/v1/achievements/", "beta_tester"),
    ("/api/v1/users/", "espresso"),
    ("/energy/boosts/", "espresso"),
    ("/actions/", "lesson"),
    ("/api/v1/actions/", "lesson"),
    ("/leaderboards/", "weekly_lessons"),
    ("/api/v1/leaderboards/", "weekly_lessons"),
]
# Fields every JSON route may read (the API's bodies are not crawled).
JSON_FIELDS = [
    "user",
    "user_id",
    "value",
    "attributes",
    "idempotency_key",
    "tz",
    "action",
    "difficulty",
    "tokens",
    "skills",
    "tier",
    "until",
    "amount",
    "delta",
    "reason",
    "name",
    "email",
    "events",
    "metric",
    "minutes",
    "recipient",
    "message",
    "friend",
    "preferences",
    "users",
]
QUERY_FIELDS = [
    "page",
    "limit",
    "offset",
    "history",
    "radius",
    "run",
    "segment",
    "tz",
    "q",
    "next",
    "status",
    "period",
    "days",
    "view",
    "type",
    "box",
    "cursor",
    "unread",
]
# /readyz answers 503 by design here: the tests build tables with create_all, so no migration is recorded.
SKIP = {"static", "ops.readyz"}


class Site:
    """The seeded app, its routes and the fields each route's forms send."""

    def __init__(self, app, db):
        self.app, self.db = app, db
        demo.seed(players=6, days=3, echo=lambda *a: None)
        admin = db.session.execute(db.select(User).where(User.role == ROLE_ADMIN)).scalars().first()
        player = db.session.execute(db.select(User).where(User.email == demo.DEMO_EMAIL)).scalar_one()
        self.admin_id, self.player_id = admin.id, player.id
        from tests import factories as f

        self.api_key = f.api_key()
        self.ids = {}
        for arg, table in ID_TABLES.items():
            t = db.metadata.tables[table]
            self.ids[arg] = db.session.execute(db.select(db.func.min(t.c.id))).scalar() or 1
        self.ids["energy_boost_id"] = (
            db.session.execute(db.select(db.func.min(db.metadata.tables["energy_boosts"].c.id))).scalar() or 1
        )
        db.session.commit()
        self.routes = sorted(
            (
                (r, m)
                for r in app.url_map.iter_rules()
                if r.endpoint not in SKIP
                for m in sorted((r.methods or set()) - {"HEAD", "OPTIONS"})
            ),
            # Destructive routes last (an erased player or a logged-out session would starve the rest).
            key=lambda rm: (
                "delete" in rm[0].rule or "remove" in rm[0].rule or "logout" in rm[0].rule or rm[1] == "DELETE",
                rm[0].rule,
                rm[1],
            ),
        )
        self.forms = self._crawl()

    def path(self, rule, hostile=None) -> str:
        """The rule's URL with real arguments, or `hostile` in its string arguments."""
        path = rule.rule
        for arg, conv in rule._converters.items():
            if type(conv).__name__ == "BoundedIntConverter" or "Integer" in type(conv).__name__:
                value = self.ids["energy_boost_id"] if arg == "boost_id" and "/energy" in path else self.ids.get(arg, 1)
            elif hostile is not None:
                value = quote(hostile, safe="", encoding="utf-8", errors="surrogatepass")
            elif arg == "key":
                value = next((v for prefix, v in KEYS if path.startswith(prefix)), "lessons_completed")
            else:
                value = STRING_ARGS.get(arg, "x")
            path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?" + arg + ">", str(value).replace("\\", "\\\\"), path)
        return path

    def client(self, role: str):
        c = self.app.test_client()
        uid = {"admin": self.admin_id, "player": self.player_id}.get(role)
        if uid is not None:
            with c.session_transaction() as s:
                s["_user_id"], s["_fresh"] = str(uid), True
        return c

    def role(self, rule) -> str:
        return "api" if rule.rule.startswith("/api/") else "admin" if rule.rule.startswith("/admin") else "player"

    def _crawl(self) -> dict[str, set[str]]:
        """Form fields by the path they are posted to, from every GET page (as admin and as player)."""
        forms: dict[str, set[str]] = {}
        for role in ("admin", "player"):
            client = self.client(role)
            for rule, method in self.routes:
                if method != "GET" or rule.rule.startswith("/api/") or "logout" in rule.rule:
                    continue
                html = client.get(self.path(rule)).get_data(as_text=True)
                for m in re.finditer(r"<form\b([^>]*)>(.*?)</form>", html, re.S):
                    action = re.search(r'(?:action|hx-post)="([^"]*)"', m.group(1))
                    target = (action.group(1) if action and action.group(1) else self.path(rule)).split("?")[0]
                    names = set(re.findall(r'name="([^"]+)"', m.group(2))) - {"csrf_token"}
                    forms.setdefault(target, set()).update(names)
                for m in re.finditer(r'hx-post="([^"]+)"', html):
                    forms.setdefault(m.group(1).split("?")[0], set())
        return forms

    def fields(self, path: str) -> list[str]:
        return sorted(self.forms.get(path, set()) | {"name", "key", "value", "email", "password", "timezone"})

    def send(self, rule, method, role, values, path_value=None):
        """One request; `values(field)` gives each field's value. Asserts no 5xx."""
        path = self.path(rule, path_value)
        client = self.client(role)
        # Encoded by hand: a lone surrogate goes out as the invalid UTF-8 a hostile client would send.
        query = urlencode({q: str(values(q)) for q in QUERY_FIELDS}, encoding="utf-8", errors="surrogatepass")
        headers = {"X-API-Key": self.api_key} if role == "api" else {}
        if rule.rule.startswith("/api/"):
            body = {k: values(k) for k in JSON_FIELDS}
            body["user"] = {
                "id": values("user.id"),
                "name": values("user.name"),
                "email": values("user.email"),
                "tz": values("user.tz"),
                "attributes": {values("attr.key"): values("attr.value")},
            }
            body["events"] = [{"metric": "lessons_completed", "user": body["user"], "value": values("value")}]
            try:
                data = json.dumps(body)
            except (TypeError, ValueError, RecursionError):
                data = "{}"
            kwargs = {"data": data, "headers": {**headers, "Content-Type": "application/json"}}
        else:
            form = {k: values(k) for k in self.fields(path)} if method != "GET" else {}
            kwargs = {
                "data": urlencode(form, encoding="utf-8", errors="surrogatepass"),
                "headers": {**headers, "Content-Type": "application/x-www-form-urlencoded"},
            }
        r = client.open(path, method=method, query_string=query, **kwargs)
        assert r.status_code < 500, (method, path, role, r.status_code, r.get_data(as_text=True)[-1500:])
        return r


@pytest.fixture
def site(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # reach the handlers behind the forms
    return Site(app, db)


def _numberish(v: str):
    """A JSON body carries the hostile value as it would come: numbers as numbers, text as text."""
    try:
        return json.loads(v) if v not in ("NaN", "Infinity") else v
    except ValueError:
        return v


def test_every_route_answers_hostile_values_without_5xx(site):
    for v in HOSTILE:
        for rule, method in site.routes:
            for role in {site.role(rule), "anonymous"}:
                if role == "anonymous" and v not in ("\x00", "9" * 25, "x" * 5000):
                    continue  # strangers mostly meet the login redirect: three values suffice
                vals = (lambda k, v=v: _numberish(v)) if rule.rule.startswith("/api/") else (lambda k, v=v: v)
                site.send(rule, method, role, vals, path_value=v if "/" not in v and v else None)
    # Deep JSON and huge bodies on every JSON route.
    for rule, method in site.routes:
        if rule.rule.startswith("/api/") and method != "GET":
            client = site.client("api")
            for data in (
                "[" * 100_000 + "]" * 100_000,
                DEEP_BODY,
                '{"value": NaN, "user": {"id": "u"}}',
                '{"value": 1' + "0" * 400 + ', "user": {"id": "u"}}',
                '{"user": {"id": "u\\u0000"}}',
                '{"user": {"id": "\\ud800"}}',
            ):
                r = client.open(
                    site.path(rule),
                    method=method,
                    data=data,
                    headers={"X-API-Key": site.api_key, "Content-Type": "application/json"},
                )
                assert r.status_code < 500, (method, rule.rule, data[:80], r.get_data(as_text=True)[-800:])


field_values = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats().map(str),
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_values_on_random_routes_never_5xx(app, db, monkeypatch, data):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    site = test_random_values_on_random_routes_never_5xx.__dict__.get("site")
    if (
        site is None
        or not db.session.execute(db.select(db.func.count()).select_from(db.metadata.tables["metrics"])).scalar()
    ):
        site = test_random_values_on_random_routes_never_5xx.site = Site(app, db)
    rule, method = data.draw(st.sampled_from(site.routes), label="route")
    role = data.draw(st.sampled_from([site.role(rule), "anonymous"]), label="role")
    drawn: dict = {}

    def values(k):
        if k not in drawn:
            v = data.draw(field_values, label=k)
            drawn[k] = _numberish(v) if rule.rule.startswith("/api/") and data.draw(st.booleans()) else v
        return drawn[k]

    site.send(rule, method, role, values)
