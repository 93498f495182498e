"""helpdesk push: rate limit per token, push state, pushed contacts; mall inquiries' customer facts

Shared API rate limit, push state per address book, the contacts pushed; what a mall inquiry's
first message said about its customer (name, masked address, order number).

Revision ID: 0008
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "helpdesk_rate_limit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_fp", sa.String(length=32), nullable=False),
        sa.Column("calls", sa.Text(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=True),
        sa.Column("server_limit", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_rate_limit")),
        sa.UniqueConstraint("token_fp", name=op.f("uq_helpdesk_rate_limit_token_fp")),
    )
    op.create_table(
        "helpdesk_push_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("inquiry_cursor", sa.Integer(), nullable=False),
        sa.Column("changed_since", sa.DateTime(), nullable=True),
        sa.Column("changed_member_id", sa.Integer(), nullable=False),
        sa.Column("changed_order_id", sa.Integer(), nullable=False),
        sa.Column("changed_checked_at", sa.DateTime(), nullable=True),
        sa.Column("member_cursor", sa.Integer(), nullable=False),
        sa.Column("mall_cursor", sa.Integer(), nullable=False),
        sa.Column("sweep_started_at", sa.DateTime(), nullable=True),
        sa.Column("sweep_done_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("paused_reason", sa.String(length=16), nullable=True),
        sa.Column("paused_token_fp", sa.String(length=32), nullable=True),
        sa.Column("book_checked_at", sa.DateTime(), nullable=True),
        sa.Column("next_pass_at", sa.DateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_pass_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_ja", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_push_state")),
        sa.UniqueConstraint("target", name=op.f("uq_helpdesk_push_state_target")),
    )
    op.create_table(
        "helpdesk_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=96), nullable=False),
        sa.Column("system_id1", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("pushed_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpdesk_contact")),
        sa.UniqueConstraint("target", "subject", name=op.f("uq_helpdesk_contact_target_subject")),
    )
    with op.batch_alter_table("helpdesk_contact", schema=None) as batch_op:
        batch_op.create_index("ix_helpdesk_contact_target_status", ["target", "status"], unique=False)

    with op.batch_alter_table("mall_inquiry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("customer_address", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("order_number", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_mall_inquiry_customer_address"), ["customer_address"], unique=False)
        batch_op.create_index(batch_op.f("ix_mall_inquiry_order_number"), ["order_number"], unique=False)


def downgrade():
    with op.batch_alter_table("mall_inquiry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mall_inquiry_order_number"))
        batch_op.drop_index(batch_op.f("ix_mall_inquiry_customer_address"))
        batch_op.drop_column("order_number")
        batch_op.drop_column("customer_address")
        batch_op.drop_column("customer_name")
    with op.batch_alter_table("helpdesk_contact", schema=None) as batch_op:
        batch_op.drop_index("ix_helpdesk_contact_target_status")
    op.drop_table("helpdesk_contact")
    op.drop_table("helpdesk_push_state")
    op.drop_table("helpdesk_rate_limit")
