"""partial index on the undispatched domain events (the outbox dispatcher's read)

Revision ID: 9d4e5f6a7b8c
Revises: 7c1d2e3f4a5b
Create Date: 2026-12-01 06:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "9d4e5f6a7b8c"
down_revision = "7c1d2e3f4a5b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_domain_events_undispatched",
        "domain_events",
        ["id"],
        postgresql_where=sa.text("dispatched_at IS NULL"),
        sqlite_where=sa.text("dispatched_at IS NULL"),
    )


def downgrade():
    op.drop_index("ix_domain_events_undispatched", table_name="domain_events")
