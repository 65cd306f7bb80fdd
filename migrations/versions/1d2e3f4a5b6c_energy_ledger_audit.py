"""energy ledger audit: client address on energy transactions, unexplained-increase reviews, job cursors

Revision ID: 1d2e3f4a5b6c
Revises: 89e1a8566288
Create Date: 2026-12-02 00:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "1d2e3f4a5b6c"
down_revision = "89e1a8566288"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("energy_transactions") as batch_op:
        batch_op.add_column(sa.Column("client_ip", sa.String(length=45), nullable=True))
    # The audit looks up each row's predecessor for the same player by id.
    op.create_index("ix_energy_tx_user_id_id", "energy_transactions", ["user_id", "id"])
    with op.batch_alter_table("energy_reviews") as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=24), nullable=False, server_default="spending"))
        batch_op.add_column(sa.Column("transaction_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_energy_reviews_transaction_id", ["transaction_id"])
    op.create_table(
        "job_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade():
    op.drop_table("job_cursors")
    with op.batch_alter_table("energy_reviews") as batch_op:
        batch_op.drop_constraint("uq_energy_reviews_transaction_id", type_="unique")
        batch_op.drop_column("transaction_id")
        batch_op.drop_column("kind")
    op.drop_index("ix_energy_tx_user_id_id", table_name="energy_transactions")
    with op.batch_alter_table("energy_transactions") as batch_op:
        batch_op.drop_column("client_ip")
