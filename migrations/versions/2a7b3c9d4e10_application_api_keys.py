"""api keys scoped to one player (Trophy's application API keys)

Revision ID: 2a7b3c9d4e10
Revises: 1c89de01fa23
Create Date: 2026-12-02 12:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "2a7b3c9d4e10"
down_revision = "1c89de01fa23"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("user_external_id", sa.String(length=128), nullable=True))


def downgrade():
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("user_external_id")
