"""Flask CLI commands: `flask create-admin`, `flask seed-demo`."""

import click
from flask import Flask

from .demo import seed
from .extensions import db
from .models import ROLE_ADMIN, User
from .models._common import utcnow
from .services import analytics_rollups


def register(app: Flask) -> None:
    @app.cli.command("create-admin")
    @click.option("--email", required=True)
    @click.option("--password", required=True)
    @click.option("--name", default="Admin")
    def create_admin(email: str, password: str, name: str):
        """Create (or reset the password of) an admin account."""
        email = email.strip().lower()
        user = db.session.execute(db.select(User).where(User.email == email)).scalar_one_or_none()
        if user is None:
            user = User(email=email, display_name=name, role=ROLE_ADMIN, timezone="UTC", attributes={})
            db.session.add(user)
        user.role = ROLE_ADMIN
        user.set_password(password)
        db.session.commit()
        click.echo(f"admin {email} ready")

    @app.cli.command("seed-demo")
    @click.option("--players", default=300, show_default=True)
    @click.option("--days", default=90, show_default=True)
    def seed_demo(players: int, days: int):
        """Create the language-learning demo app with generated history (through the real engine)."""

        seed(players=players, days=days, echo=click.echo)

    @app.cli.command("analytics-backfill")
    @click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day (default: the first event)")
    @click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: today, UTC)")
    def analytics_backfill(start, end):
        """Recompute the analytics rollups of a range of days (idempotent: the range is replaced)."""
        today = utcnow().date()
        last = end.date() if end else today
        first = start.date() if start else (analytics_rollups.first_day() or last)
        rows = analytics_rollups.recompute(first, last)
        db.session.commit()
        click.echo(f"analytics rollups: {first} .. {last}, {rows} rows")
