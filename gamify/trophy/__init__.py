"""A Trophy-compatible application API at /trophy/v1: a product built on Trophy's official SDKs (Python
`trophy`, Node `@trophyso/node`) points their base URL here and keeps working (docs/trophy-compat.md).

Thin views over gamify's services and event pipeline, one module per area of Trophy's published
definition (application API 1.21.1): metrics (events, a user's metrics), users, streaks, achievements,
points, leaderboards. `base` holds the blueprint, the key check and Trophy's error shape; `schemas` the
request and response models (camelCase on the wire; `schemas_wrapped` those of wrapped); `shapes` maps gamify's
rows to Trophy's shapes.
"""

from . import achievements, leaderboards, metrics, points, streaks, users, wrapped  # noqa: F401  (routes attach)
from .base import bp  # noqa: F401
