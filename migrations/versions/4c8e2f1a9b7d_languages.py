"""languages: the player's chosen locale, the admin's default, notifications worded when shown

Revision ID: 4c8e2f1a9b7d
Revises: 2b9d4f6a8c10
Create Date: 2026-12-02 06:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "4c8e2f1a9b7d"
down_revision = "2b9d4f6a8c10"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
    with op.batch_alter_table("messaging_settings") as batch_op:
        batch_op.add_column(sa.Column("default_locale", sa.String(length=16), nullable=False, server_default="en"))
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.add_column(sa.Column("message", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_column("params")
        batch_op.drop_column("message")
    with op.batch_alter_table("messaging_settings") as batch_op:
        batch_op.drop_column("default_locale")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("locale")
