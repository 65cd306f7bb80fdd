"""A Trophy-compatible admin API at /trophy/admin/v1 (Trophy's admin API 1.21.1, for what gamify has):
metrics and batch events, attributes, points systems with their levels, triggers and boosts,
leaderboards, streak freezes and restores, application API keys. Tenants answer 501 (gamify serves one
product). docs/trophy-compat.md lists every operation and how gamify's configuration maps onto Trophy's.

Thin views over the services that also serve the admin pages: every rule (keys, ranges, what a trigger
needs, what may be deleted) is a service's, answered here as an issue of the item it refuses. `base`
holds the bulk plumbing, `schemas` the items and resources (camelCase on the wire)."""

from . import attributes, keys, leaderboards, metrics, points, points_parts, streaks  # noqa: F401  (routes attach)
from .base import bp  # noqa: F401
