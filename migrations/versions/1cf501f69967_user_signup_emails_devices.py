"""users.sign_up_date and users.subscribe_to_emails; device_tokens (the host product's user fields)

Revision ID: 1cf501f69967
Revises: 70fbf5cf1cee
Create Date: 2026-12-10 12:00:00

"""

import sqlalchemy as sa
from alembic import op

from gamify.models._common import UTCDateTime

revision = "1cf501f69967"
down_revision = "70fbf5cf1cee"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("sign_up_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("subscribe_to_emails", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "device_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=512), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    with op.batch_alter_table("device_tokens") as batch_op:
        batch_op.create_index(batch_op.f("ix_device_tokens_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("device_tokens") as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_tokens_user_id"))
    op.drop_table("device_tokens")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("subscribe_to_emails")
        batch_op.drop_column("sign_up_date")
