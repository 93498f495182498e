"""Helpers for the admin-console tests (staff, API tokens, audit log)."""
from tests.conftest import Auth, csrf_token


def post_form(client, url, data=None, page="/admin/users"):
    """POST `data` to `url` with the CSRF token taken from a console page."""
    html = client.get(page).get_data(as_text=True)
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(html)})


class OtherBrowser:
    """A second browser: its own cookies, and each call in a fresh app context.

    The `app` fixture keeps one app context pushed, so `g` (Flask-WTF's CSRF token, Flask-Login's
    user) would otherwise leak from the first client's requests into this one's.
    """

    def __init__(self, app):
        self.app, self.client = app, app.test_client()

    def get(self, *args, **kwargs):
        """GET in a fresh app context."""
        with self.app.app_context():
            return self.client.get(*args, **kwargs)

    def login(self, email="agent@example.jp", password="agent-password-1"):
        """Log in through the real form; returns the response."""
        with self.app.app_context():
            return Auth(self.client).login(email, password)
