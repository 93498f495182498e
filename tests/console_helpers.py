"""Helpers for the admin-console tests (staff, API tokens, audit log)."""
from tests.conftest import Auth, csrf_token


def post_form(client, url, data=None, page="/admin/users"):
    """POST `data` to `url` with the CSRF token taken from a console page."""
    html = client.get(page).get_data(as_text=True)
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(html)})


class OtherBrowser:
    """A second browser with its own cookies (each request already gets its own app context:
    see conftest.IsolatedClient)."""

    def __init__(self, app):
        self.client = app.test_client()

    def get(self, *args, **kwargs):
        """GET with this browser's cookies."""
        return self.client.get(*args, **kwargs)

    def login(self, email="agent@example.jp", password="agent-password-1"):
        """Log in through the real form; returns the response."""
        return Auth(self.client).login(email, password)
