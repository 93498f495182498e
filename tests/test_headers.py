"""Security headers on every response: CSP (no framing, no inline script), nosniff, Referrer-Policy,
no-store where customer data is shown, HSTS outside the demo."""
import pathlib
import re

import pytest

import lookups
import plugin
from plugin import create_app
from plugin.extensions import db
from tests import factories
from tests.conftest import base_config


@pytest.fixture
def agent(app, auth, client):
    """The client, logged in as an agent."""
    auth.login()
    return client


@pytest.mark.parametrize("path, headers", [
    ("/login", {}),
    ("/lookup/members?email=taro@example.jp", {}),
    ("/lookup/orders?email=taro@example.jp", {"Accept": "application/json"}),
    ("/forms/nonexistent", {}),
    ("/healthz", {}),
    ("/static/style.css", {}),
])
def test_every_response_carries_the_security_headers(agent, path, headers):
    """Pages, JSON, errors and static files all say: no framing, no inline script, no sniffing, no Referer out."""
    response = agent.get(path, headers=headers)
    response.close()  # a static file is streamed from disk
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp.split(
        "script-src", 1)[1].split(";", 1)[0]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_pages_with_customer_data_are_never_stored(app, agent):
    """Lookups (HTML and JSON), member and order pages and the console answer Cache-Control: no-store."""
    member = factories.make_member()
    order = factories.make_order()
    paths = ["/lookup/members?email=taro@example.jp", "/lookup/orders?format=json&email=taro@example.jp",
             "/default/admin_relation_member_search.html?email=taro@example.jp",
             f"/members/{member.id}", f"/orders/{order.id}", "/admin/"]
    for path in paths:
        assert agent.get(path).headers.get("Cache-Control") == "no-store", path


def test_static_files_may_be_cached(agent):
    """Stylesheets and scripts hold no customer data: they are not marked no-store."""
    with agent.get("/static/app.js") as response:
        assert "no-store" not in response.headers.get("Cache-Control", "")


def test_demo_sends_no_hsts(database_url):
    """The demo runs on plain http://localhost: no HSTS that would pin the browser to HTTPS there."""
    app = create_app({**base_config(database_url), "DEMO": True})
    try:
        response = app.test_client().get("/login")
    finally:
        with app.app_context():
            db.engine.dispose()  # this second app's pooled connections must not outlive the test
    assert "Strict-Transport-Security" not in response.headers
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_no_template_runs_inline_script():
    """Every template loads scripts from static files only: no <script> body, no on…= attribute (CSP)."""
    roots = [pathlib.Path(plugin.__file__).parent, pathlib.Path(lookups.__file__).parent]
    found = []
    for root in roots:
        for path in root.rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            for match in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=\s*[\"']", text):
                found.append(f"{path.relative_to(root.parent)}: {match.group(0).strip()}")
    assert found == []
