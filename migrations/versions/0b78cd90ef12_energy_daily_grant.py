"""energy given to every player at their local midnight (daily grant)

Revision ID: 0b78cd90ef12
Revises: fa67bc89de01
Create Date: 2026-12-01 07:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0b78cd90ef12"
down_revision = "fa67bc89de01"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("energy_settings") as batch_op:
        batch_op.add_column(sa.Column("daily_grant", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("energy_settings") as batch_op:
        batch_op.drop_column("daily_grant")
