"""notification templates per language: notification_templates.locale (the admins' versions so far are English)

Revision ID: 5d1e7a3c9f20
Revises: ab34cd56ef78
Create Date: 2026-12-02 12:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "5d1e7a3c9f20"
down_revision = "ab34cd56ef78"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notification_templates") as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=False, server_default="en"))
        batch_op.drop_constraint("uq_notification_template", type_="unique")
        batch_op.create_unique_constraint(
            "uq_notification_template_locale", ["type", "channel", "locale", "scope_attribute", "scope_value"]
        )


def downgrade():
    # Only the English versions fit the old key (one version per type, channel and scope).
    op.execute("DELETE FROM notification_templates WHERE locale <> 'en'")
    with op.batch_alter_table("notification_templates") as batch_op:
        batch_op.drop_constraint("uq_notification_template_locale", type_="unique")
        batch_op.create_unique_constraint(
            "uq_notification_template", ["type", "channel", "scope_attribute", "scope_value"]
        )
        batch_op.drop_column("locale")
