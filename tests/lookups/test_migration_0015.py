"""Migration 0015 fills the name search columns of members and orders that exist before it."""
import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from plugin import create_app
from plugin.extensions import db
from tests.conftest import PG_URL, base_config


@pytest.mark.skipif(bool(PG_URL), reason="runs on its own SQLite file; PostgreSQL is covered by the head comparison")
def test_existing_members_and_orders_are_found_by_name_after_the_upgrade(tmp_path):
    """Rows written before 0015 get normalize_name() of their name and reading."""
    app = create_app(base_config(f"sqlite:///{tmp_path / 'm.db'}"))
    with app.app_context():
        upgrade(revision="0012")
        db.session.execute(text("INSERT INTO member (shop_id, customer_code, name, name_kana) "
                                "VALUES (1, 'A1', '山田　太郎', 'ﾔﾏﾀﾞ ﾀﾛｳ'), (1, 'A2', NULL, NULL)"))
        db.session.execute(text("INSERT INTO shop_order (shop_id, order_number, mall, name) "
                                "VALUES (1, 'O1', 'own', 'すずき いちろう')"))
        db.session.commit()
        upgrade(revision="head")
        members = db.session.execute(text("SELECT customer_code, name_norm, kana_norm FROM member "
                                          "ORDER BY customer_code")).all()
        assert [tuple(r) for r in members] == [("A1", "山田太郎", "ヤマダタロウ"), ("A2", None, None)]
        assert db.session.scalar(text("SELECT name_norm FROM shop_order")) == "スズキイチロウ"
        db.engine.dispose()
