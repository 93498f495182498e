"""forms: per-shop mail templates, inquiry forms and their submissions

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mail_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("updated_by", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], name=op.f("fk_mail_template_shop_id_shop"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_template")),
        sa.UniqueConstraint("shop_id", "kind", name=op.f("uq_mail_template_shop_id_kind")),
    )
    op.create_table(
        "inquiry_form",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("to_addresses", sa.Text(), nullable=False),
        sa.Column("bcc_addresses", sa.Text(), nullable=True),
        sa.Column("from_address", sa.String(length=254), nullable=True),
        sa.Column("allowed_origins", sa.Text(), nullable=True),
        sa.Column("ack_template", sa.String(length=64), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], name=op.f("fk_inquiry_form_shop_id_shop")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inquiry_form")),
        sa.UniqueConstraint("slug", name=op.f("uq_inquiry_form_slug")),
    )
    op.create_table(
        "form_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("origin", sa.String(length=200), nullable=True),
        sa.Column("spam", sa.Boolean(), nullable=False),
        sa.Column("outbox_ids", sa.JSON(), nullable=True),
        sa.Column("mail_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["form_id"], ["inquiry_form.id"], name=op.f("fk_form_submission_form_id_inquiry_form"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_submission")),
    )
    with op.batch_alter_table("form_submission", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_submission_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_form_submission_form_id"), ["form_id"], unique=False)


def downgrade():
    with op.batch_alter_table("form_submission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_submission_form_id"))
        batch_op.drop_index(batch_op.f("ix_form_submission_created_at"))
    op.drop_table("form_submission")
    op.drop_table("inquiry_form")
    op.drop_table("mail_template")
