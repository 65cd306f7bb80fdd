"""push_subscriptions (Web Push, one row per subscribed browser); device_tokens.platform

Revision ID: bd45ef67a012
Revises: bc45de67fa89
Create Date: 2026-12-02 12:50:00

"""

import sqlalchemy as sa
from alembic import op

from gamify.models._common import UTCDateTime

revision = "bd45ef67a012"
down_revision = "bc45de67fa89"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=1024), nullable=False),
        sa.Column("p256dh", sa.String(length=128), nullable=False),
        sa.Column("auth", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint"),
    )
    with op.batch_alter_table("push_subscriptions") as batch_op:
        batch_op.create_index(batch_op.f("ix_push_subscriptions_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("device_tokens") as batch_op:
        batch_op.add_column(sa.Column("platform", sa.String(length=16), server_default="", nullable=False))


def downgrade():
    with op.batch_alter_table("device_tokens") as batch_op:
        batch_op.drop_column("platform")
    with op.batch_alter_table("push_subscriptions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_subscriptions_user_id"))
    op.drop_table("push_subscriptions")
