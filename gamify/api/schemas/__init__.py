"""The JSON API's declared shapes: request bodies, query strings and responses as pydantic models.

The request models are what the views read (`parse(Model, data)`), and the OpenAPI document
(gamify/api/openapi.py) is generated from the same models, so the published contract is the one enforced.

Validation keeps the API's error shape: the first problem becomes a `params.BadInput(field, message)`,
which the blueprint answers with 400 `{"error": {"field": ..., "message": ...}}`. The checks themselves
are the ones in gamify/params.py (text, attributes, numbers, limits), run by `checked(...)` validators
with today's messages; the pydantic types and constraints declare the same limits for the document.
Models are strict (no "5" -> 5 coercion); unknown keys are ignored, as they always were.

One module per area of the API (events, energy, leaderboards), on the machinery in `base`.
"""
