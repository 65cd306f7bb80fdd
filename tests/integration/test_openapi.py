"""The generated OpenAPI document: served, valid OpenAPI 3.1, complete (every /api/v1 route of the url_map),
secured, with error responses and examples that validate; real responses match their declared schemas;
the docs page renders and the admin API-keys page links to it."""

import re
from datetime import date

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from gamify.models import EnergyAction, EnergyBoost
from gamify.services import leaderboards as boards
from tests import factories as f

SPEC = "/api/v1/openapi.json"
PUBLIC = {"/api/v1/openapi.json"}  # the document itself needs no key
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def spec(client):
    r = client.get(SPEC)
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def _deref(spec, ref: str):
    node = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _validator(spec, schema):
    """A JSON Schema validator for `schema` that resolves the document's #/components/... references."""
    resolver_doc = {**spec, **schema}
    cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    return cls(resolver_doc, format_checker=cls.FORMAT_CHECKER)


def _schema_of(spec, path, method, status):
    op = spec["paths"][path][method]
    return op["responses"][str(status)]["content"]["application/json"]["schema"]


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate_openapi(spec)


def test_bounds_are_json_schema_keywords(spec):
    """pydantic's ge/le/gt/lt are not JSON Schema: left in the document, clients and fuzzers ignore them."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            found.extend(f"{where}.{k}" for k in ("ge", "le", "gt", "lt") if k in node and "type" in node)
            for k, v in node.items():
                walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")

    walk(spec, "")
    assert found == []
    params = spec["paths"]["/api/v1/users/{external_id}/streak"]["get"]["parameters"]
    limit = next(p for p in params if p["in"] == "query")
    assert (limit["name"], limit["schema"]["minimum"], limit["schema"]["maximum"]) == ("history", 0, 1000)


def test_every_api_route_is_in_the_document_with_a_declaration(app, spec):
    expected = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
            expected |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    listed = {(path, method) for path, method, _op in _operations(spec)}
    assert listed == expected
    assert len(expected) >= 22  # the 21 routes and this document
    undeclared = [(p, m) for p, m, op in _operations(spec) if "summary" not in op or "default" in op["responses"]]
    assert not undeclared, f"routes without an @operation declaration: {undeclared}"
    for path, _method, op in _operations(spec):
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, path
        for code in success:
            assert "schema" in op["responses"][code]["content"]["application/json"], (path, code)


def test_every_operation_has_its_security_and_error_responses(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"
    error_schema = spec["components"]["schemas"]["ErrorOut"]
    assert error_schema["required"] == ["error"]
    for path, method, op in _operations(spec):
        codes = set(op["responses"])
        if path in PUBLIC:
            assert op["security"] == []
        else:
            assert op["security"] == [{"ApiKey": []}, {"Bearer": []}], path
            assert "401" in codes, (path, method)
        assert "429" in codes, (path, method)
        if "requestBody" in op or any(p["in"] == "query" for p in op.get("parameters", [])):
            assert "400" in codes, (path, method)
        if "{" in path and (path, method) != ("/api/v1/users/{external_id}", "post"):  # that one creates
            assert "404" in codes, (path, method)  # an unknown user, metric, key, ...
        for code in codes - {"200", "201", "202"}:
            response = _deref(spec, op["responses"][code]["$ref"])
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    event = spec["paths"]["/api/v1/actions/{key}"]["post"]["responses"]
    assert {"404", "409"} <= set(event)


def test_request_examples_validate_against_their_schemas(spec):
    bodies = 0
    for path, method, op in _operations(spec):
        if "requestBody" not in op:
            continue
        bodies += 1
        media = op["requestBody"]["content"]["application/json"]
        assert "example" in media, (path, method)
        validator = _validator(spec, media["schema"])
        validator.validate(media["example"])
        for example in _deref(spec, media["schema"]["$ref"]).get("examples", []):
            validator.validate(example)
    assert bodies >= 10
    # ... and the schemas do refuse what the API refuses
    event = _validator(spec, {"$ref": "#/components/schemas/EventBody"})
    assert not event.is_valid({"value": 1})  # no user
    assert not event.is_valid({"user": {"id": "u"}, "value": "ten"})
    assert not event.is_valid({"user": {"id": "u"}, "attributes": {f"k{i}": i for i in range(51)}})
    assert event.is_valid({"user_id": "u"})


@pytest.fixture
def world(db):
    m = f.metric("lessons")
    f.metric("duels")
    f.streak({m: 1})
    xp = f.system("xp")
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.achievement("first", "metric", metric_id=m.id, threshold=1)
    f.achievement("manual", "api")
    db.session.add(
        EnergyAction(
            key="duel",
            name="Duel",
            base_cost=25,
            metric_key="duels",
            metric_value=1,
            difficulties={"easy": 0.8, "hard": 1.3},
        )
    )
    db.session.add(EnergyBoost(key="refill", name="Refill", type="instant_refill", token_cost=0, effect_value=10))
    db.session.commit()
    board = {
        "key": "top",
        "name": "Top",
        "ranked_by": "metric",
        "metric_id": m.id,
        "system_id": None,
        "frequency": "weekly",
        "start_date": date(2026, 1, 5),
        "participant_limit": 10,
        "breakdown": ["city"],
    }
    boards.create(board)
    db.session.commit()
    return {"X-API-Key": f.api_key()}


def test_real_responses_validate_against_their_declared_schemas(client, spec, world):
    calls = [
        ("post", "/api/v1/metrics/lessons/event", "/api/v1/metrics/{key}/event", {"user": {"id": "u1"}, "value": 2}),
        ("post", "/api/v1/events", "/api/v1/events", {"events": [{"metric": "lessons", "user_id": "u2"}, 5]}),
        ("post", "/api/v1/users/u1", "/api/v1/users/{external_id}", {"name": "Ann"}),
        ("get", "/api/v1/users/u1", "/api/v1/users/{external_id}", None),
        ("get", "/api/v1/users/u1/streak", "/api/v1/users/{external_id}/streak", None),
        ("get", "/api/v1/users/u1/points/xp", "/api/v1/users/{external_id}/points/{system_key}", None),
        ("post", "/api/v1/achievements/manual/complete", "/api/v1/achievements/{key}/complete", {"user_id": "u1"}),
        ("get", "/api/v1/users/u1/achievements", "/api/v1/users/{external_id}/achievements", None),
        ("post", "/api/v1/actions/duel", "/api/v1/actions/{key}", {"user": {"id": "u1"}, "difficulty": "hard"}),
        ("get", "/api/v1/users/u1/energy", "/api/v1/users/{external_id}/energy", None),
        ("get", "/api/v1/users/u1/energy/transactions", "/api/v1/users/{external_id}/energy/transactions", None),
        ("post", "/api/v1/users/u1/energy/boosts/refill", "/api/v1/users/{external_id}/energy/boosts/{key}", None),
        ("put", "/api/v1/users/u1/energy/skills", "/api/v1/users/{external_id}/energy/skills", {"skills": {"a": 5}}),
        ("get", "/api/v1/actions", "/api/v1/actions", None),
        ("get", "/api/v1/leaderboards", "/api/v1/leaderboards", None),
        ("get", "/api/v1/leaderboards/top", "/api/v1/leaderboards/{key}", None),
        ("get", "/api/v1/leaderboards/top/users/u1", "/api/v1/leaderboards/{key}/users/{external_id}", None),
        ("get", "/api/v1/users/nobody", "/api/v1/users/{external_id}", None),  # a 404
        ("post", "/api/v1/metrics/lessons/event", "/api/v1/metrics/{key}/event", {"user": {"id": ""}}),  # a 400
    ]
    for method, url, path, body in calls:
        r = client.open(url, method=method.upper(), json=body, headers=world)
        assert str(r.status_code) in spec["paths"][path][method]["responses"], (url, r.status_code, r.get_json())
        response = spec["paths"][path][method]["responses"][str(r.status_code)]
        schema = response["content"]["application/json"]["schema"] if "content" in response else None
        if schema is None:
            schema = _deref(spec, response["$ref"])["content"]["application/json"]["schema"]
        _validator(spec, schema).validate(r.get_json())
    r = client.get("/api/v1/users/u1", headers={"X-API-Key": "gk_wrong"})
    _validator(spec, {"$ref": "#/components/schemas/ErrorOut"}).validate(r.get_json())


def test_the_document_is_built_once(app, client):
    app.extensions.pop("openapi", None)
    app.extensions.pop("openapi_json", None)
    first = client.get(SPEC).get_data()
    built = app.extensions["openapi"]
    assert client.get(SPEC).get_data() == first and app.extensions["openapi"] is built


def test_docs_page_renders_and_is_linked_from_the_api_keys_page(app, client, spec):
    r = client.get("/api/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert "<title>API reference" in page
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "<script>" not in page and " on" + "click=" not in page  # nothing inline for the CSP to refuse
    for path, _method, op in _operations(spec):
        assert f'id="{op["operationId"]}"' in page, path
    assert "X-API-Key" in page and "EventBody" in page
    admin = f.admin()
    f.login(client, admin.email)
    keys_page = client.get("/admin/api-keys").get_data(as_text=True)
    assert 'href="/api/docs"' in keys_page
