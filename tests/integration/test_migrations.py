"""The Alembic migrations build exactly the schema the models describe."""

from contextlib import nullcontext

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import inspect

from gamify import create_app
from gamify.extensions import db
from tests.pgdb import scratch_database


def test_upgrade_builds_the_models_schema(tmp_path, redis_server, database_url):
    if database_url.startswith("sqlite"):
        built = nullcontext(f"sqlite:///{tmp_path / 'migrated.db'}")
    else:  # a schema of its own on the same PostgreSQL server
        built = scratch_database(database_url, "mig")
    with built as url:
        migrate_and_compare(url, redis_server)


def migrate_and_compare(url, redis_server):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": redis_server["url"], "TESTING": True})
    with app.app_context():
        upgrade()
        engine = db.engine
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, db.metadata)
        tables = set(inspect(engine).get_table_names())
        assert {"users", "metric_events", "streak_periods", "achievement_completions", "points_awards"} <= tables
        assert diff == [], f"models and migrations differ: {diff}"
        # A fresh install has the configuration counter row.
        assert db.session.execute(db.text("SELECT version FROM config_version WHERE id = 1")).scalar() == 0
        db.session.remove()
        engine.dispose()
