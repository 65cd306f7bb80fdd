"""The API's OpenAPI 3.1 document, generated from the routes in the app's url_map and the pydantic models
each view declares with `@operation(...)` (gamify/api/schemas/). Nothing here is hand-maintained: a
route without a declaration is listed with no schema (and tests/integration/test_openapi.py fails).

Built once per app, on first use, and cached (the event path never sees it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable, Optional

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .schemas.base import ErrorOut

API_PREFIX = "/api/v1"
SECURITY = [{"ApiKey": []}, {"Bearer": []}]
# Endpoints that record an event take their idempotency key from the body or this header.
IDEMPOTENCY_HEADER = {"Idempotency-Key": "Used when the body has no idempotency_key."}
# Answers about one player (routes with {external_id}) also say whether they are in the control group
# (added by api._say_control).
CONTROL = {
    "type": "object",
    "required": ["control"],
    "properties": {
        "control": {
            "type": "boolean",
            "description": "The player is in the control group: the host app should hide gamification from them.",
        }
    },
}
ERROR_TEXT = {
    400: "Invalid input: `error.field` names what to fix.",
    401: "Missing or invalid API key.",
    403: "Not allowed: an application API key (made for one user's client, valid on /trophy/v1 only), or an "
    "operation between these players (e.g. a gift to someone who is not a friend).",
    404: "Not found: `error.field` names what (user_id, metric, key, ...).",
    409: "Refused in the current state (not enough energy or tokens, already resting, ...).",
    413: "Request body too large (2 MB).",
    429: "Rate limit exceeded (events per API key, refused keys per client address).",
}


@dataclass
class Operation:
    summary: str
    responses: dict[int, Optional[type[BaseModel]]]
    body: Optional[type[BaseModel]] = None
    query: Optional[type[BaseModel]] = None
    errors: tuple[int, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    public: bool = False
    tag: str = "events"
    description: str = ""


OPERATIONS: dict[str, Operation] = {}  # by endpoint ("api.metric_event")


def operation(
    summary: str,
    *,
    responses: dict[int, Optional[type[BaseModel]]],
    body: Optional[type[BaseModel]] = None,
    query: Optional[type[BaseModel]] = None,
    errors: tuple[int, ...] = (),
    headers: Optional[dict[str, str]] = None,
    public: bool = False,
    tag: str = "events",
    blueprint: str = "api",
) -> Callable:
    """Declare a view's request body, query string, responses and the errors it can answer (400, 401,
    413 and 429 are added where they apply). Put it under the route decorator."""

    def declare(fn: Callable) -> Callable:
        doc = " ".join((fn.__doc__ or "").split())
        OPERATIONS[f"{blueprint}.{fn.__name__}"] = Operation(
            summary, responses, body, query, tuple(errors), dict(headers or {}), public, tag, doc
        )
        return fn

    return declare


def _models() -> list[tuple[type[BaseModel], str]]:
    out: dict[tuple[type[BaseModel], str], None] = {(ErrorOut, "serialization"): None}
    for op in OPERATIONS.values():
        for m in (op.body, op.query):
            if m is not None:
                out[(m, "validation")] = None
        for m in op.responses.values():
            if m is not None:
                out[(m, "serialization")] = None
    return list(out)


_ARG = re.compile(r"<(?:(?P<conv>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def _path(rule: str) -> tuple[str, list[dict]]:
    params = []
    for m in _ARG.finditer(rule):
        kind = {"type": "integer", "minimum": 0} if m.group("conv") == "int" else {"type": "string"}
        params.append({"name": m.group("name"), "in": "path", "required": True, "schema": kind})
    return _ARG.sub(lambda m: "{" + m.group("name") + "}", rule), params


def _query_params(model: type[BaseModel]) -> list[dict]:
    schema = model.model_json_schema(mode="validation")
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        prop.pop("title", None)
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if prop.get("description"):
            param["description"] = prop["description"]
        out.append(param)
    return out


def _example(model: type[BaseModel]) -> Optional[Any]:
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return examples[0] if examples else None


def build(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every /api/v1 route of `app`."""
    refs, defs = models_json_schema(_models(), ref_template="#/components/schemas/{model}")
    ref = {m: refs[(m, mode)] for m, mode in refs}
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX + "/"):
            continue
        path, path_params = _path(rule.rule)
        op = OPERATIONS.get(rule.endpoint)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule.endpoint, op, path_params, ref)
    return _json_schema_bounds(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "gamify API",
                "version": "1",
                "description": "The host product's API: send events, identify players, read streaks, points, "
                "achievements, energy and leaderboards. Authenticate with an API key (Admin → API keys) in "
                "`X-API-Key` or `Authorization: Bearer`. Every 4xx answers "
                '`{"error": {"field": ..., "message": ...}}`.',
            },
            "servers": [{"url": (app.config.get("PUBLIC_URL") or "").rstrip("/") or "/"}],
            "paths": paths,
            "components": {
                "schemas": {**defs.get("$defs", {}), "ControlFlag": CONTROL},
                "securitySchemes": {
                    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                    "Bearer": {"type": "http", "scheme": "bearer", "description": "The API key as a bearer token."},
                },
                "responses": {
                    str(code): {
                        "description": text,
                        "content": {"application/json": {"schema": ref[ErrorOut]}},
                    }
                    for code, text in ERROR_TEXT.items()
                },
            },
            "tags": [
                {"name": "events", "description": "Metric events and actions"},
                {"name": "players", "description": "Players, their streaks, points and achievements"},
                {"name": "energy", "description": "Energy, boosts, skills and rest"},
                {"name": "leaderboards", "description": "Rankings"},
                {"name": "achievements", "description": "Achievements, with a player's progress"},
                {"name": "points", "description": "Points history, summaries, levels and manual awards"},
                {"name": "streaks", "description": "Streak freezes and restores"},
                {"name": "social", "description": "Friends and energy gifts between them"},
                {"name": "notifications", "description": "A player's in-app inbox and notification preferences"},
                {"name": "analytics", "description": "The admin's analytics figures, for the host's dashboards"},
                {"name": "meta", "description": "This document"},
            ],
        }
    )


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _json_schema_bounds(node):
    """pydantic copies ge/le/gt/lt verbatim into a schema when a custom check (schemas.base.checked) stands
    between them and the type: rename them to the JSON Schema keywords clients and fuzzers read."""
    if isinstance(node, dict):
        typed = "type" in node
        return {(_BOUNDS.get(k, k) if typed else k): _json_schema_bounds(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_json_schema_bounds(v) for v in node]
    return node


def _operation(endpoint: str, op: Optional[Operation], path_params: list[dict], ref: dict) -> dict:
    out: dict[str, Any] = {"operationId": endpoint.split(".", 1)[-1]}
    if op is None:  # an undeclared route: listed, so that the omission shows (and the tests fail)
        out["responses"] = {"default": {"description": "undeclared"}}
        return out
    out.update(summary=op.summary, tags=[op.tag])
    if op.description:
        out["description"] = op.description
    parameters = list(path_params)
    if op.query is not None:
        parameters += _query_params(op.query)
    parameters += [
        {"name": name, "in": "header", "required": False, "schema": {"type": "string"}, "description": text}
        for name, text in op.headers.items()
    ]
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        schema = op.body.model_json_schema(mode="validation")
        media: dict[str, Any] = {"schema": ref[op.body]}
        example = _example(op.body)
        if example is not None:
            media["example"] = example
        out["requestBody"] = {
            "required": bool(schema.get("required") or schema.get("anyOf")),
            "content": {"application/json": media},
        }
    responses: dict[str, Any] = {}
    about_a_player = any(p["name"] == "external_id" for p in path_params)
    for code, model in op.responses.items():
        schema = ref[model] if model is not None else {"type": "object"}
        if about_a_player and 200 <= code < 300 and model is not None:
            schema = {"allOf": [schema, {"$ref": "#/components/schemas/ControlFlag"}]}
        responses[str(code)] = {
            "description": HTTPStatus(code).phrase,
            "content": {"application/json": {"schema": schema}},
        }
    errors = set(op.errors)
    if op.body is not None or op.query is not None:
        errors.add(400)
    if op.body is not None:
        errors.add(413)
    errors.add(429)  # refused keys per address (and events per key on POST)
    if not op.public:
        errors.update((401, 403))  # 403: an application key (Trophy's, for one user) is refused here
    for code in sorted(errors):
        responses[str(code)] = {"$ref": f"#/components/responses/{code}"}
    out["responses"] = responses
    out["security"] = [] if op.public else SECURITY
    return out


def spec(app: Flask) -> dict:
    """The document, built on first use and kept for the app's lifetime."""
    cached = app.extensions.get("openapi")
    if cached is None:
        cached = app.extensions["openapi"] = build(app)
    return cached


def spec_json(app: Flask) -> str:
    cached = app.extensions.get("openapi_json")
    if cached is None:
        cached = app.extensions["openapi_json"] = app.json.dumps(spec(app))
    return cached


# ------------------------------------------------------------------------------------------ the docs page


def _type(schema: dict) -> str:
    """A schema in a few words: "string", "UserIn", "array of BatchEvent", "string or integer"."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "allOf" in schema:
        return " + ".join(_type(s) for s in schema["allOf"])
    if "anyOf" in schema:
        kinds = [_type(s) for s in schema["anyOf"]]
        return " or ".join(dict.fromkeys(k for k in kinds if k != "null")) + (" or null" if "null" in kinds else "")
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type(schema['additionalProperties'])}"
    return f"{kind} ({schema['format']})" if "format" in schema else kind


_LIMITS = (
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("maxProperties", "at most {} entries"),
)


def _limits(schema: dict) -> str:
    parts = []
    for s in [schema, *schema.get("anyOf", [])]:
        parts += [text.format(s[key]) for key, text in _LIMITS if key in s]
    return ", ".join(dict.fromkeys(parts))


def reference(doc: dict) -> dict:
    """What templates/api/docs.html shows: operations by tag, then the schemas, in plain words."""
    tags = {t["name"]: {"name": t["name"], "description": t["description"], "operations": []} for t in doc["tags"]}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            body = op.get("requestBody")
            media = body["content"]["application/json"] if body else None
            tags[op.get("tags", ["meta"])[0]]["operations"].append(
                {
                    "id": op["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "secured": bool(op.get("security")),
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": _type(p["schema"]),
                            "limits": _limits(p["schema"]),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": {
                        "type": _type(media["schema"]),
                        "required": body["required"],
                        "example": json.dumps(media.get("example"), indent=2, ensure_ascii=False),
                    }
                    if media
                    else None,
                    "responses": [
                        {
                            "code": code,
                            "description": r.get("description") or doc["components"]["responses"][code]["description"],
                            "type": _type(r["content"]["application/json"]["schema"]) if "content" in r else "ErrorOut",
                        }
                        for code, r in op["responses"].items()
                    ],
                }
            )
    schemas = []
    for name, schema in doc["components"]["schemas"].items():
        required = set(schema.get("required", ()))
        schemas.append(
            {
                "name": name,
                "description": schema.get("description", ""),
                "fields": [
                    {
                        "name": field_name,
                        "type": _type(prop),
                        "required": field_name in required,
                        "limits": _limits(prop),
                        "description": prop.get("description", ""),
                    }
                    for field_name, prop in schema.get("properties", {}).items()
                ],
            }
        )
    return {
        "info": doc["info"],
        "tags": [t for t in tags.values() if t["operations"]],
        "schemas": schemas,
        "security": doc["components"]["securitySchemes"],
    }
