"""notification_templates (admins' templates per type, channel and attribute scope) and
notification_deliveries (sent / failed / fell back / clicked, per message)

Revision ID: 2b9d4f6a8c10
Revises: 1cf501f69967
Create Date: 2026-12-12 09:00:00

"""

import sqlalchemy as sa
from alembic import op

from gamify.models._common import UTCDateTime

revision = "2b9d4f6a8c10"
down_revision = "1cf501f69967"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notification_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("scope_attribute", sa.String(length=64), nullable=False),
        sa.Column("scope_value", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("type", "channel", "scope_attribute", "scope_value", name="uq_notification_template"),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_ends_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("clicked_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    with op.batch_alter_table("notification_deliveries") as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_deliveries_user_id"), ["user_id"], unique=False)
        batch_op.create_index("ix_notification_deliveries_type_created", ["type", "created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("notification_deliveries") as batch_op:
        batch_op.drop_index("ix_notification_deliveries_type_created")
        batch_op.drop_index(batch_op.f("ix_notification_deliveries_user_id"))
    op.drop_table("notification_deliveries")
    op.drop_table("notification_templates")
