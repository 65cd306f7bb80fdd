"""come-back e-mail sequence after a lost streak (days 3, 7, 14, 30)

Revision ID: fa67bc89de01
Revises: ef56ab78cd90
Create Date: 2026-12-01 07:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "fa67bc89de01"
down_revision = "ef56ab78cd90"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("messaging_settings") as batch_op:
        batch_op.add_column(
            sa.Column("reactivation_days", sa.String(length=64), nullable=False, server_default="3,7,14,30")
        )


def downgrade():
    with op.batch_alter_table("messaging_settings") as batch_op:
        batch_op.drop_column("reactivation_days")
