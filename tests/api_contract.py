"""Checks an API response against the generated OpenAPI document (GET /api/v1/openapi.json): the status
must be declared for the operation and the body must validate against its schema, references resolved."""

import jsonschema

SPEC = "/api/v1/openapi.json"


def spec_of(client) -> dict:
    r = client.get(SPEC)
    assert r.status_code == 200
    return r.get_json()


def _deref(spec: dict, ref: str):
    node = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def validator(spec: dict, schema: dict):
    cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    return cls({**spec, **schema}, format_checker=cls.FORMAT_CHECKER)


def check(spec: dict, response, path: str, method: str = "get") -> dict:
    """`response` (a test client response) is one the document declares for `method path`; returns its JSON."""
    op = spec["paths"][path][method]
    code = str(response.status_code)
    assert code in op["responses"], (path, method, code, response.get_json())
    declared = op["responses"][code]
    if "$ref" in declared:
        declared = _deref(spec, declared["$ref"])
    body = response.get_json()
    validator(spec, declared["content"]["application/json"]["schema"]).validate(body)
    return body
