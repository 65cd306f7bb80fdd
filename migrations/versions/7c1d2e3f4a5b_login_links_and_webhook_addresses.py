"""used login links (e-mailed sign-in links work once); webhooks_allow_private setting; metrics.allow_negative

Revision ID: 7c1d2e3f4a5b
Revises: 5b2c9d7e41a0
Create Date: 2026-12-01 05:40:00

"""

import sqlalchemy as sa
from alembic import op

from gamify.models._common import UTCDateTime

revision = "7c1d2e3f4a5b"
down_revision = "5b2c9d7e41a0"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "used_login_links",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index("ix_used_login_links_used_at", "used_login_links", ["used_at"])
    with op.batch_alter_table("messaging_settings") as batch_op:
        batch_op.add_column(
            sa.Column("webhooks_allow_private", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Existing metrics keep accepting what they accepted (negative values were allowed everywhere).
    with op.batch_alter_table("metrics") as batch_op:
        batch_op.add_column(sa.Column("allow_negative", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE metrics SET allow_negative = true")


def downgrade():
    with op.batch_alter_table("metrics") as batch_op:
        batch_op.drop_column("allow_negative")
    with op.batch_alter_table("messaging_settings") as batch_op:
        batch_op.drop_column("webhooks_allow_private")
    op.drop_index("ix_used_login_links_used_at", table_name="used_login_links")
    op.drop_table("used_login_links")
