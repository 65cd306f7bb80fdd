"""indexes on the columns referencing metric_events (deleting a player's events checks each one's key)

Revision ID: 1c89de01fa23
Revises: 1d2e3f4a5b6c
Create Date: 2026-12-02 09:00:00

"""

from alembic import op

revision = "1c89de01fa23"
down_revision = "1d2e3f4a5b6c"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_achievement_completions_trigger_event_id", "achievement_completions", "trigger_event_id"),
    ("ix_streak_periods_event_id", "streak_periods", "event_id"),
    ("ix_streak_freeze_ledger_event_id", "streak_freeze_ledger", "event_id"),
)


def upgrade():
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade():
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
