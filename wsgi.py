"""gunicorn entry point: `gunicorn wsgi:app`."""
import sys

from plugin import create_app
from plugin.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # The operator needs the sentence, not gunicorn's traceback of the import.
    print(f"Error: {exc}", file=sys.stderr, flush=True)
    # 4 is gunicorn's "app failed to load": the arbiter stops instead of respawning workers.
    sys.exit(4)
