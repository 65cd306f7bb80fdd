"""points_awards.idempotency_key: manual awards through the API are idempotent per player and system

Revision ID: 950598d5b769
Revises: 0b78cd90ef12
Create Date: 2026-12-02 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "950598d5b769"
down_revision = "0b78cd90ef12"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("points_awards") as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint("uq_points_award_idempotency", ["user_id", "system_id", "idempotency_key"])


def downgrade():
    with op.batch_alter_table("points_awards") as batch_op:
        batch_op.drop_constraint("uq_points_award_idempotency", type_="unique")
        batch_op.drop_column("idempotency_key")
