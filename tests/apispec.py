"""Checking real API responses against the generated OpenAPI document (GET /api/v1/openapi.json): the
status must be declared for the operation, and the body must validate against its declared schema."""

from __future__ import annotations

import jsonschema


class Spec:
    def __init__(self, client):
        r = client.get("/api/v1/openapi.json")
        assert r.status_code == 200
        self.doc = r.get_json()

    def _deref(self, ref: str):
        node = self.doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def validator(self, schema: dict):
        cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
        return cls({**self.doc, **schema}, format_checker=cls.FORMAT_CHECKER)

    def check(self, response, path: str, method: str):
        """`response` (a test client response) is declared for `method path` and matches its schema;
        returns its JSON body."""
        op = self.doc["paths"][path][method.lower()]
        code = str(response.status_code)
        assert code in op["responses"], (method, path, code, response.get_json())
        declared = op["responses"][code]
        if "$ref" in declared:
            declared = self._deref(declared["$ref"])
        schema = declared["content"]["application/json"]["schema"]
        body = response.get_json()
        self.validator(schema).validate(body)
        return body
