"""Admin console: every route needs an admin; players get 403, anonymous visitors go to the login page.

The console is split by feature; each module adds its routes to `bp` (base.py, with the guard):
home.py (overview, API keys),
metrics.py, streak.py, achievements.py (+ backfill.py), points.py, players.py, analytics.py (+ analytics_trends.py).
Other features' admin pages live in their own blueprints, made by `admin_blueprint` (admins only)."""

# Feature pages register their routes on `bp` when imported.
from . import achievements, analytics, analytics_trends, home, metrics, players, points, streak  # noqa: F401
from .base import admin_blueprint, admin_tag, bp  # noqa: F401
