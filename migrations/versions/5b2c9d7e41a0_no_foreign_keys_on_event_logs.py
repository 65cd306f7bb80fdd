"""no foreign keys on the event path's log tables (outbox, rank history, score log)

They take rows by the thousand a second, in the transaction that creates what they name; a key check
per row cost about a third of a batch's write.

Revision ID: 5b2c9d7e41a0
Revises: 08e7afcc60dc
Create Date: 2026-12-01 04:40:00

"""

from alembic import op

revision = "5b2c9d7e41a0"
down_revision = "08e7afcc60dc"
branch_labels = None
depends_on = None

# PostgreSQL's names for the unnamed constraints; SQLite's batch mode names reflected ones the same way.
NAMING = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}
KEYS = {
    "domain_events": (("user_id", "users", None), ("source_event_id", "metric_events", None)),
    "leaderboard_rank_changes": (
        ("leaderboard_id", "leaderboards", None),
        ("user_id", "users", None),
        ("source_event_id", "metric_events", None),
    ),
    "leaderboard_score_log": (
        ("leaderboard_id", "leaderboards", "CASCADE"),
        ("user_id", "users", "CASCADE"),
        ("source_event_id", "metric_events", "SET NULL"),
    ),
}


def upgrade():
    for table, keys in KEYS.items():
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            for column, _referred, _ondelete in keys:
                batch_op.drop_constraint(f"{table}_{column}_fkey", type_="foreignkey")


def downgrade():
    for table, keys in KEYS.items():
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            for column, referred, ondelete in keys:
                batch_op.create_foreign_key(f"{table}_{column}_fkey", referred, [column], ["id"], ondelete=ondelete)
