"""attribute definitions (names for the attributes players and events carry)

Revision ID: 3b8c4d0e5f21
Revises: 2a7b3c9d4e10
Create Date: 2026-12-02 13:00:00

"""

import sqlalchemy as sa
from alembic import op

from gamify.models._common import UTCDateTime

revision = "3b8c4d0e5f21"
down_revision = "2a7b3c9d4e10"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "attribute_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )


def downgrade():
    op.drop_table("attribute_definitions")
