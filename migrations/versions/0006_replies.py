"""replies: mails received by smtp-in and the queue of mall writes (reply, complete, read)

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reply_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("peer", sa.String(length=255), nullable=True),
        sa.Column("mail_from", sa.String(length=512), nullable=True),
        sa.Column("rcpt", sa.String(length=512), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("inquiry_id", sa.String(length=64), nullable=True),
        sa.Column("sender", sa.String(length=254), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["mall_account.id"],
                                name=op.f("fk_reply_mail_account_id_mall_account"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_mail")),
    )
    with op.batch_alter_table("reply_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reply_mail_account_id"), ["account_id"], unique=False)
        batch_op.create_index("ix_reply_mail_state_received_at", ["state", "received_at"], unique=False)

    op.create_table(
        "reply_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("inquiry_id", sa.String(length=64), nullable=False),
        sa.Column("reply_mail_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("complete_after", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Integer(), nullable=True),
        sa.Column("files", sa.LargeBinary(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=True),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("posted_message_id", sa.String(length=64), nullable=True),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["mall_account.id"],
                                name=op.f("fk_reply_job_account_id_mall_account"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reply_mail_id"], ["reply_mail.id"],
                                name=op.f("fk_reply_job_reply_mail_id_reply_mail"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_job")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_reply_job_dedupe_key")),
    )
    with op.batch_alter_table("reply_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reply_job_reply_mail_id"), ["reply_mail_id"], unique=False)
        batch_op.create_index("ix_reply_job_state_next_attempt_at", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_reply_job_account_id_inquiry_id", ["account_id", "inquiry_id"], unique=False)


def downgrade():
    op.drop_table("reply_job")
    op.drop_table("reply_mail")
