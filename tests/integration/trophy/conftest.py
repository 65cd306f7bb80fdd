"""The Trophy-compatible API under test: Trophy's official Python SDK (`trophy`, pinned in
requirements.txt) against the app served over real HTTP (`live_server`), and answers checked against the
schemas of Trophy's published definition (../shared/sources/trophy-openapi/application-1.21.1.json)."""

import json
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from trophy import TrophyApi
from trophy.environment import TrophyApiEnvironment

from tests import factories as f

SPEC_PATH = Path(__file__).resolve().parents[3].parent / "shared/sources/trophy-openapi/application-1.21.1.json"
SPEC_URI = "urn:trophy:application-1.21.1"


ADMIN_SPEC_PATH = SPEC_PATH.with_name("admin-1.21.1.json")
ADMIN_SPEC_URI = "urn:trophy:admin-1.21.1"


def _spec(path: Path) -> dict:
    if not path.exists():
        pytest.fail(f"Trophy's OpenAPI definition is missing at {path} (shared/ sits beside the checkout)")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def trophy_spec():
    return _spec(SPEC_PATH)


@pytest.fixture(scope="session")
def conforms(trophy_spec):
    """conforms(body, method, path, status): the body validates against that operation's response schema
    in Trophy's definition (a JSON Schema 2020-12 check, formats included); returns the body."""
    return _checker(trophy_spec, SPEC_URI)


@pytest.fixture(scope="session")
def admin_conforms():
    """conforms for the admin API's definition (admin-1.21.1.json). Its ids are UUIDs (`format: uuid`);
    gamify's are integers as strings (docs/trophy-compat.md): every format but that one is checked."""
    return _checker(_spec(ADMIN_SPEC_PATH), ADMIN_SPEC_URI, skip_formats=("uuid",))


def _checker(spec: dict, uri: str, skip_formats: tuple = ()):
    registry = Registry().with_resource(uri, DRAFT202012.create_resource(spec))
    all_formats = Draft202012Validator.FORMAT_CHECKER
    formats = FormatChecker(formats=[f for f in all_formats.checkers if f not in skip_formats])

    def check(instance, method: str, path: str, status: int = 200):
        pointer = "/".join(
            p.replace("~", "~0").replace("/", "~1")
            for p in ("paths", path, method, "responses", str(status), "content", "application/json", "schema")
        )
        validator = Draft202012Validator(
            {"$ref": f"{uri}#/{pointer}"},
            registry=registry,
            format_checker=formats,
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
        return instance

    return check


@pytest.fixture
def api_key(app):
    return f.api_key()  # committed: the live server reads it in its own transaction


@pytest.fixture
def sdk(live_server, api_key):
    """Trophy's SDK client, pointed at gamify by its environment (the one change a product makes)."""
    env = TrophyApiEnvironment(api=f"{live_server}/trophy/v1", admin=f"{live_server}/trophy/admin/v1")
    return TrophyApi(api_key=api_key, environment=env, max_retries=0, timeout=30)


class Http:
    """Plain HTTP to /trophy/v1 (or another prefix) with the key (or none), for what the SDK would not send."""

    def __init__(self, base: str, key: str, prefix: str = "/trophy/v1"):
        self.base, self.key = base + prefix, key

    def __call__(self, method: str, path: str, key: bool = True, **kw) -> requests.Response:
        headers = {**({"X-API-KEY": self.key} if key else {}), **kw.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kw)


@pytest.fixture
def http(live_server, api_key):
    return Http(live_server, api_key)


@pytest.fixture
def admin_http(live_server, api_key):
    return Http(live_server, api_key, "/trophy/admin/v1")


@pytest.fixture
def world(db):
    """A product configured as in Trophy's examples: words written, a daily streak with freezes, XP with
    levels, a metric trigger (10 XP per word) doubled by a boost, achievements of every kind and an
    all-time leaderboard broken down by city. Committed, for the live server."""
    from gamify.services import leaderboards

    words = f.metric("words", name="Words written", unit="words")
    f.streak({words: 1}, freeze_initial=1, freeze_max=2)
    xp = f.system("xp", name="XP", levels=[("bronze", "Bronze", 10), ("silver", "Silver", 50)])
    f.trigger(xp, "metric", 10, metric_id=words.id, per_units=1)
    f.boost(xp, 2, name="Double XP")
    first = f.achievement("first-words", "metric", name="First words", metric_id=words.id, threshold=1)
    f.achievement("hundred", "metric", name="A hundred words", metric_id=words.id, threshold=100)
    f.trigger(xp, "achievement", 5, achievement_id=first.id)
    f.achievement("onboarded", "api", name="Onboarded", description="Finished onboarding")
    f.achievement("streak-3", "streak", name="Three in a row", streak_length=3)
    leaderboards.create(
        {
            "key": "words-all",
            "name": "All-time words",
            "ranked_by": "metric",
            "metric_id": words.id,
            "frequency": "perpetual",
            "participant_limit": 10,
            "breakdown": ["city"],
        }
    )
    db.session.commit()
    return {"words": words, "xp": xp, "first": first}


def wire(raw) -> dict:
    """The JSON an SDK raw response (`with_raw_response`) carried, as sent (the SDK exposes only the
    parsed model and the status)."""
    return raw._response.json()
