"""Wires every feature's blueprints, CLI commands and event hooks into the app, in one place."""
from flask import Flask


def register(app: Flask) -> None:
    from .api import bp as api_bp
    from .web.auth import bp as auth_bp
    from .web.player import bp as player_bp
    from .admin import bp as admin_bp
    from . import cli

    app.register_blueprint(auth_bp)
    app.register_blueprint(player_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    cli.register(app)
