"""Wires every feature's blueprints, CLI commands and event hooks into the app, in one place."""

from flask import Flask

from . import after_commit, cli, jobs
from .admin import bp as admin_bp
from .admin.energy import bp as admin_energy_bp
from .admin.jobs import bp as admin_jobs_bp
from .admin.leaderboards import bp as admin_leaderboards_bp
from .admin.notification_templates import bp as admin_templates_bp
from .admin.webhooks import bp as admin_webhooks_bp
from .api import achievements as _api_achievements  # noqa: F401  (achievement progress and details routes)
from .api import analytics as _api_analytics  # noqa: F401  (analytics figures, before api_bp is registered)
from .api import bp as api_bp
from .api import devices as _api_devices  # noqa: F401  (device tokens for mobile push, before api_bp)
from .api import energy as _energy_api  # noqa: F401  (energy routes attach to api_bp before it is registered)
from .api import leaderboard_history as _api_lb_history  # noqa: F401  (past runs, rank history)
from .api import leaderboards as _api_leaderboards  # noqa: F401  (leaderboard routes, before api_bp is registered)
from .api import notifications as _api_notifications  # noqa: F401  (inbox and preferences, before api_bp)
from .api import players as _api_players  # noqa: F401  (bulk identify and erasure, before api_bp is registered)
from .api import points_api as _api_points  # noqa: F401  (points history, daily, levels, manual awards)
from .api import social as _api_social  # noqa: F401  (gifts and friends, before api_bp is registered)
from .api import streaks_api as _api_streaks  # noqa: F401  (freeze grants, restore a lost streak)
from .api.docs import bp as api_docs_bp
from .ops import bp as ops_bp
from .ops import health as _ops_health  # noqa: F401  (/healthz, /readyz attach to ops_bp before it is registered)
from .ops import telemetry as _ops_telemetry  # noqa: F401  (/metrics)
from .pipeline import achievements, base, energy, leaderboards, points, streaks
from .services import leaderboards as _leaderboards
from .trophy import bp as trophy_bp
from .trophy.admin import bp as trophy_admin_bp
from .web.auth import bp as auth_bp
from .web.energy import bp as energy_bp
from .web.leaderboards import bp as leaderboards_bp
from .web.links import bp as links_bp
from .web.player import bp as player_bp
from .web.push import bp as push_bp
from .web.theme import bp as theme_bp
from .web.wrapped import bp as wrapped_bp


def register(app: Flask) -> None:

    app.register_blueprint(auth_bp)
    app.register_blueprint(player_bp)
    app.register_blueprint(push_bp)  # /sw.js and the settings page's push control (web/push.py)
    app.register_blueprint(wrapped_bp)  # the year in review page and its share links
    app.register_blueprint(theme_bp)  # POST /theme: the light/dark toggle (web/theme.py)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(api_docs_bp)  # /api/docs: the reference generated from /api/v1/openapi.json
    app.register_blueprint(trophy_bp, url_prefix="/trophy/v1")  # Trophy's SDKs, pointed at gamify
    app.register_blueprint(trophy_admin_bp, url_prefix="/trophy/admin/v1")  # ... and their admin client
    app.register_blueprint(ops_bp)  # /healthz, /readyz, /metrics: probes and scrapes (no login, no rate limits)
    cli.register(app)

    # Messaging: e-mail links, webhooks/jobs/notification-settings admin, outbox dispatch after commit.

    app.register_blueprint(links_bp)
    app.register_blueprint(admin_webhooks_bp, url_prefix="/admin/webhooks")
    app.register_blueprint(admin_jobs_bp, url_prefix="/admin")
    app.register_blueprint(admin_templates_bp, url_prefix="/admin/templates")  # notification templates
    after_commit.init_app(app)
    jobs.init_app(app)

    # Energy: player pages (bar, actions, energy, friends), admin pages, event hooks (actions spend energy).

    app.register_blueprint(energy_bp)
    app.register_blueprint(admin_energy_bp)

    # Leaderboards: player pages, admin pages, `flask leaderboards ...`, event/replay hooks.

    app.register_blueprint(leaderboards_bp)
    app.register_blueprint(admin_leaderboards_bp, url_prefix="/admin/leaderboards")
    app.cli.add_command(_leaderboards.cli)

    # The event pipeline's features, in the order they see an event: energy may refuse it (an action
    # without enough energy) before anything changes; each later one reads what the earlier left.

    for feature in (
        energy.Energy(),
        streaks.Streaks(),
        achievements.Achievements(),
        points.Points(),
        leaderboards.Leaderboards(),
    ):
        base.register(feature)
