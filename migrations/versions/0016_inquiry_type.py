"""mall_inquiry.inquiry_type: the mall's word for the inquiry, shown on the lookup page

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mall_inquiry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inquiry_type", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("mall_inquiry", schema=None) as batch_op:
        batch_op.drop_column("inquiry_type")
