"""gunicorn entry point: `gunicorn wsgi:app`."""
from plugin import create_app

app = create_app()
