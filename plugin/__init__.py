"""mallbridge shell: the application factory."""
import os

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from plugin import config, converters, errors, forms, headers, metrics, pool, settings, web
from plugin.extensions import csrf, db, login_manager, migrate

_HERE = os.path.dirname(os.path.abspath(__file__))
# An installed wheel carries the migrations inside the package (setup.py copies them there); a
# checkout keeps them at the repository's top level, where `flask db revision` writes new ones.
_PACKAGED_MIGRATIONS = os.path.join(_HERE, "migrations")
MIGRATIONS_DIR = (_PACKAGED_MIGRATIONS if os.path.isdir(_PACKAGED_MIGRATIONS)
                  else os.path.join(os.path.dirname(_HERE), "migrations"))


def create_app(test_config=None):
    """Build the app: config, extensions, blueprints, CLI. No migrations, network or threads."""
    # The feature packages import the shell (plugin.extensions, plugin.settings), so their list
    # is read when an app is built, not while the `plugin` package itself is being imported.
    from plugin import features

    app = Flask(__name__, instance_relative_config=True)
    config.load(app, test_config)
    # As in Flask's tutorial: the embedded SQLite file lives in the instance folder.
    os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    with app.app_context():  # the engines exist now; nothing connects yet
        for engine in db.engines.values():
            pool.watch(engine)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    converters.init_app(app)  # bounded <int:…> ids: before any blueprint adds its routes
    settings.init_app(app, features.SETTINGS)
    for blueprint in features.BLUEPRINTS:
        app.register_blueprint(blueprint)
    for blueprint in features.CSRF_EXEMPT:
        csrf.exempt(blueprint)
    forms.init_app(app)  # the public forms' size limits and per-IP rate limiter
    errors.init_app(app)
    web.init_app(app)
    metrics.init_app(app)
    headers.init_app(app)  # CSP, nosniff, Referrer-Policy, no-store, HSTS on every response
    for command in features.COMMANDS:
        app.cli.add_command(command)
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
