"""mallbridge shell: the application factory."""
import os

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from plugin import config
from plugin.extensions import csrf, db, login_manager, migrate

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def create_app(test_config=None):
    """Build the app: config, extensions, blueprints, CLI. No migrations, network or threads."""
    app = Flask(__name__, instance_relative_config=True)
    config.load(app, test_config)
    # As in Flask's tutorial: the embedded SQLite file lives in the instance folder.
    os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    from plugin import converters

    converters.init_app(app)  # bounded <int:…> ids: before any blueprint adds its routes

    # Import models so metadata (and Alembic autogenerate) sees every table.
    from lookups import models as _lookup_models  # noqa: F401
    from plugin import models as _models  # noqa: F401

    from lookups import bp as lookups_bp
    from lookups.pages import bp as pages_bp
    from plugin import admin, api, auth, errors, health, mailbox, metrics, web
    from plugin.cli import register_commands

    app.register_blueprint(auth.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(lookups_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(mailbox.bp)
    from sync import complete_views

    app.register_blueprint(complete_views.bp)  # /complete/<token> (issue 7)
    from plugin import forms

    forms.init_app(app)  # public /forms/<slug>: blueprint, CSRF exemption, rate limiter
    csrf.exempt(lookups_bp)
    csrf.exempt(api.bp)
    errors.init_app(app)
    web.init_app(app)
    metrics.init_app(app)
    register_commands(app)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """Foreign keys, WAL and a busy timeout make SQLite behave under several workers."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()
