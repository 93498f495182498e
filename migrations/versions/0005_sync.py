"""mall sync: accounts, cursors, inquiries, inbound messages, own replies, routing, reminders

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mall_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("mall", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("rakuten_shop_id", sa.String(length=32), nullable=True),
        sa.Column("service_secret_enc", sa.Text(), nullable=True),
        sa.Column("license_key_enc", sa.Text(), nullable=True),
        sa.Column("license_expires_at", sa.DateTime(), nullable=True),
        sa.Column("seller_id", sa.String(length=64), nullable=True),
        sa.Column("client_id", sa.String(length=255), nullable=True),
        sa.Column("client_secret_enc", sa.Text(), nullable=True),
        sa.Column("refresh_token_enc", sa.Text(), nullable=True),
        sa.Column("refresh_token_issued_at", sa.DateTime(), nullable=True),
        sa.Column("access_token_enc", sa.Text(), nullable=True),
        sa.Column("access_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("public_key_enc", sa.Text(), nullable=True),
        sa.Column("key_version", sa.String(length=16), nullable=True),
        sa.Column("last_poll_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_ja", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(), nullable=True),
        sa.Column("paused_reason", sa.String(length=32), nullable=True),
        sa.Column("backfill_total", sa.Integer(), nullable=True),
        sa.Column("backfill_done", sa.Integer(), nullable=True),
        sa.Column("backfilled_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], name=op.f("fk_mall_account_shop_id_shop"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mall_account")),
    )
    with op.batch_alter_table("mall_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mall_account_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "sync_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("scanned_until", sa.DateTime(), nullable=True),
        sa.Column("newest_post_time", sa.Integer(), nullable=True),
        sa.Column("deep_scan_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["mall_account.id"],
                                name=op.f("fk_sync_cursor_account_id_mall_account"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_cursor")),
        sa.UniqueConstraint("account_id", name=op.f("uq_sync_cursor_account_id")),
    )

    op.create_table(
        "mall_inquiry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("inquiry_id", sa.String(length=64), nullable=False),
        sa.Column("change_marker", sa.String(length=64), nullable=True),
        sa.Column("first_message_id", sa.String(length=255), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("inbox", sa.String(length=254), nullable=True),
        sa.Column("customer", sa.String(length=254), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["mall_account.id"],
                                name=op.f("fk_mall_inquiry_account_id_mall_account"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mall_inquiry")),
        sa.UniqueConstraint("account_id", "inquiry_id", name=op.f("uq_mall_inquiry_account_id_inquiry_id")),
    )
    with op.batch_alter_table("mall_inquiry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mall_inquiry_started_at"), ["started_at"], unique=False)

    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mall", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("inquiry_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("mail_message_id", sa.String(length=255), nullable=False),
        sa.Column("first_message_id", sa.String(length=255), nullable=False),
        sa.Column("sender_kind", sa.String(length=16), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("skip_reason", sa.String(length=255), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["mall_account.id"],
                                name=op.f("fk_inbound_message_account_id_mall_account"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_message")),
        sa.UniqueConstraint("mall", "account_id", "inquiry_id", "message_id",
                            name=op.f("uq_inbound_message_mall_account_id_inquiry_id_message_id")),
    )
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_message_account_id_created_at", ["account_id", "created_at"],
                              unique=False)

    op.create_table(
        "mall_own_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("inquiry_id", sa.String(length=64), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("matched_message_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["mall_account.id"],
                                name=op.f("fk_mall_own_reply_account_id_mall_account"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mall_own_reply")),
    )
    with op.batch_alter_table("mall_own_reply", schema=None) as batch_op:
        batch_op.create_index("ix_mall_own_reply_account_id_inquiry_id", ["account_id", "inquiry_id"],
                              unique=False)

    op.create_table(
        "routing_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=True),
        sa.Column("mall", sa.String(length=16), nullable=True),
        sa.Column("keyword", sa.String(length=200), nullable=True),
        sa.Column("inquiry_type", sa.String(length=100), nullable=True),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], name=op.f("fk_routing_rule_shop_id_shop"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rule")),
    )

    op.create_table(
        "reminder_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["mall_account.id"],
                                name=op.f("fk_reminder_sent_account_id_mall_account"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_sent")),
        sa.UniqueConstraint("account_id", "kind", "expires_at", "days_before",
                            name=op.f("uq_reminder_sent_account_id_kind_expires_at_days_before")),
    )


def downgrade():
    op.drop_table("reminder_sent")
    op.drop_table("routing_rule")
    with op.batch_alter_table("mall_own_reply", schema=None) as batch_op:
        batch_op.drop_index("ix_mall_own_reply_account_id_inquiry_id")
    op.drop_table("mall_own_reply")
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_message_account_id_created_at")
    op.drop_table("inbound_message")
    with op.batch_alter_table("mall_inquiry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mall_inquiry_started_at"))
    op.drop_table("mall_inquiry")
    op.drop_table("sync_cursor")
    with op.batch_alter_table("mall_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mall_account_shop_id"))
    op.drop_table("mall_account")
