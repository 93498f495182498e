"""Migrations: an empty database upgraded to head matches the models exactly."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from plugin import create_app
from plugin.extensions import db
from tests.conftest import PG_URL, base_config


def _differences(url):
    engine = create_engine(url if isinstance(url, str) else f"sqlite:///{url}")
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
            return compare_metadata(ctx, db.metadata)
    finally:
        engine.dispose()


def test_head_matches_models(app, database_template):
    """The freshly migrated test database (SQLite or PostgreSQL) has every table, column and index of the models."""
    assert _differences(database_template) == []


def test_single_head():
    """The revisions form one line, so `mallbridge db upgrade` (to "head") works."""
    from alembic.script import ScriptDirectory

    from plugin import MIGRATIONS_DIR

    app = create_app(base_config("sqlite://"))
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config(MIGRATIONS_DIR)
        assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_downgrade_to_base_and_up_again(tmp_path):
    """Every revision can be rolled back and re-applied on an empty SQLite database."""
    if PG_URL:
        import pytest

        pytest.skip("the round trip runs on SQLite; PostgreSQL is covered by the head comparison")
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    app = create_app(base_config(url))
    with app.app_context():
        upgrade(revision="head")
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(revision="head")
        assert "shop" in inspect(db.engine).get_table_names()
        db.engine.dispose()
