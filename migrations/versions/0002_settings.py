"""runtime settings: values, change history, version counter

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "setting",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("updated_by", sa.String(length=254), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_setting")),
    )
    op.create_table(
        "setting_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setting_change")),
    )
    with op.batch_alter_table("setting_change", schema=None) as batch_op:
        batch_op.create_index("ix_setting_change_key_at", ["key", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_setting_change_at"), ["at"], unique=False)
    op.create_table(
        "setting_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setting_version")),
    )


def downgrade():
    op.drop_table("setting_version")
    with op.batch_alter_table("setting_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_setting_change_at"))
        batch_op.drop_index("ix_setting_change_key_at")
    op.drop_table("setting_change")
    op.drop_table("setting")
