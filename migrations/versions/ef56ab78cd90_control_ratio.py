"""control group ratio (percent of new players kept out of gamification)

Revision ID: ef56ab78cd90
Revises: de45fa67bc89
Create Date: 2026-12-01 07:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "ef56ab78cd90"
down_revision = "de45fa67bc89"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("messaging_settings") as batch_op:
        batch_op.add_column(sa.Column("control_ratio", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("messaging_settings") as batch_op:
        batch_op.drop_column("control_ratio")
