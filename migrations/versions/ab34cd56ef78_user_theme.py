"""users.theme: the colour theme a player chose (null: follow the device)

Revision ID: ab34cd56ef78
Revises: 4c8e2f1a9b7d
Create Date: 2026-12-12 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "ab34cd56ef78"
down_revision = "4c8e2f1a9b7d"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("theme", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("theme")
