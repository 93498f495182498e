"""lookup search: normalised name columns of members and orders; mall inquiries by customer

Agents search by name or reading (prefix, full-/half-width and spaces ignored): members get
name_norm and kana_norm, orders name_norm, each with an index (PostgreSQL: text_pattern_ops, so
LIKE 'x%' is an index range under any collation). Existing rows are filled here. Lookups by relay
address find a customer's inquiries through (account_id, customer).

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

from plugin.normalize import normalize_name

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None
BATCH = 5000


def _fill(table, pairs):
    """Write normalize_name of each source column into its search column, a batch at a time."""
    conn = op.get_bind()
    t = sa.table(table, sa.column("id", sa.Integer), *(sa.column(c, sa.String) for pair in pairs for c in pair))
    last = 0
    while True:
        rows = conn.execute(sa.select(t.c.id, *(t.c[src] for src, _ in pairs)).where(t.c.id > last)
                            .order_by(t.c.id).limit(BATCH)).all()
        if not rows:
            return
        params = [{"b_id": row[0], **{f"b_{dst}": normalize_name(row[i + 1]) for i, (_, dst) in enumerate(pairs)}}
                  for row in rows]
        conn.execute(t.update().where(t.c.id == sa.bindparam("b_id"))
                     .values({dst: sa.bindparam(f"b_{dst}") for _, dst in pairs}), params)
        last = rows[-1][0]


def upgrade():
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_norm", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("kana_norm", sa.String(length=200), nullable=True))
    with op.batch_alter_table("shop_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_norm", sa.String(length=200), nullable=True))
    _fill("member", [("name", "name_norm"), ("name_kana", "kana_norm")])
    _fill("shop_order", [("name", "name_norm")])
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.create_index("ix_member_name_norm", ["name_norm"], unique=False,
                              postgresql_ops={"name_norm": "text_pattern_ops"})
        batch_op.create_index("ix_member_kana_norm", ["kana_norm"], unique=False,
                              postgresql_ops={"kana_norm": "text_pattern_ops"})
    with op.batch_alter_table("shop_order", schema=None) as batch_op:
        batch_op.create_index("ix_shop_order_name_norm", ["name_norm"], unique=False,
                              postgresql_ops={"name_norm": "text_pattern_ops"})
    with op.batch_alter_table("mall_inquiry", schema=None) as batch_op:
        batch_op.create_index("ix_mall_inquiry_account_id_customer", ["account_id", "customer"], unique=False)


def downgrade():
    with op.batch_alter_table("mall_inquiry", schema=None) as batch_op:
        batch_op.drop_index("ix_mall_inquiry_account_id_customer")
    with op.batch_alter_table("shop_order", schema=None) as batch_op:
        batch_op.drop_index("ix_shop_order_name_norm")
        batch_op.drop_column("name_norm")
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index("ix_member_kana_norm")
        batch_op.drop_index("ix_member_name_norm")
        batch_op.drop_column("kana_norm")
        batch_op.drop_column("name_norm")
