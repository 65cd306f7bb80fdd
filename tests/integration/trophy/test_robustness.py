"""Every /trophy/v1 route, fed odd path values, query strings and bodies, answers JSON in Trophy's error
shape and never a 5xx."""

import re

import pytest
from trophy import UpsertedUser

ODD_QUERIES = [
    {},
    {"historyPeriods": "abc", "awards": "0", "numEvents": "101", "year": "x"},
    {"limit": "-1", "offset": "1e3", "run": "2026-02-30", "userId": "\u00e9", "userAttributes": "nocolon"},
    {"aggregation": "yearly", "startDate": "01/02/2026", "endDate": "", "includeFinished": "maybe"},
    {"userIds": ",,,", "includeIncomplete": "TRUE", "userAttributes": "a:b,c:d"},
]
ODD_BODIES = [None, "[]", '"text"', "{}", '{"user": []}', '{"user": {"id": null}, "value": null}', '{"value": 1e309}']


@pytest.fixture
def routes(app):
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/trophy/v1/"):
            path = rule.rule[len("/trophy/v1") :]
            for arg, value in (("external_id", "u-1"), ("key", "words")):
                path = path.replace(f"<{arg}>", value)
            assert not re.search(r"<\w+>", path), path
            out += [(m, path) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return out


def test_no_route_answers_5xx(world, http, routes, sdk):
    sdk.metrics.event("words", user=UpsertedUser(id="u-1"), value=1)
    failures = []
    for method, path in routes:
        for params in ODD_QUERIES:
            bodies = ODD_BODIES if method != "GET" else [None]
            for raw in bodies:
                r = http(method, path, params=params, data=raw, headers={"Content-Type": "application/json"})
                ok = r.status_code < 500 and r.headers["Content-Type"].startswith("application/json")
                if ok and r.status_code >= 400:
                    ok = isinstance(r.json().get("error"), str)
                if not ok:
                    failures.append((method, path, params, raw, r.status_code, r.text[:200]))
    assert not failures, failures[:5]
