"""streak_pauses: spans of local days in which a player's streak neither extends nor breaks

Revision ID: 70fbf5cf1cee
Revises: 3b8c4d0e5f21
Create Date: 2026-12-10 10:00:00

"""

import sqlalchemy as sa
from alembic import op

from gamify.models._common import UTCDateTime

revision = "70fbf5cf1cee"
down_revision = "3b8c4d0e5f21"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "streak_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=120), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    with op.batch_alter_table("streak_pauses") as batch_op:
        batch_op.create_index(batch_op.f("ix_streak_pauses_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("streak_pauses") as batch_op:
        batch_op.drop_index(batch_op.f("ix_streak_pauses_user_id"))
    op.drop_table("streak_pauses")
