"""reply_mail: intake attempts and claim lease, so a mail that keeps failing is quarantined

Revision ID: 0009
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reply_mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("reply_mail", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("attempts")
