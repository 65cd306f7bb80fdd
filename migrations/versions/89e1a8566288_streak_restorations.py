"""streak_restorations: lost streaks given back through the API, with the reason

Revision ID: 89e1a8566288
Revises: 950598d5b769
Create Date: 2026-12-02 10:00:00

"""

import sqlalchemy as sa
from alembic import op

from gamify.models._common import UTCDateTime

revision = "89e1a8566288"
down_revision = "950598d5b769"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "streak_restorations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lost_period_start", sa.Date(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "lost_period_start", name="uq_streak_restoration"),
    )
    with op.batch_alter_table("streak_restorations") as batch_op:
        batch_op.create_index(batch_op.f("ix_streak_restorations_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("streak_restorations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_streak_restorations_user_id"))
    op.drop_table("streak_restorations")
