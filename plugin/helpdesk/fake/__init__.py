"""A stateful imitation of the helpdesk's Open API (address books and contacts) for the demo,
the tests and the benchmark: `mallbridge fake-helpdesk` or `python -m plugin.helpdesk.fake`.

Served paths (one host):
  /api/v2/customer_groups…   the API (MALLBRIDGE_HELPDESK_API_BASE = http://host:port/api/v2)
  /                          an HTML page listing each address book's contacts
  /_control/…                JSON control API for tests (state, requests, faults, limit, reset)
Needs no database and no mallbridge app; everything lives in memory.
"""
from flask import Flask, jsonify

from plugin.helpdesk.fake import api, control, page
from plugin.helpdesk.fake.seed import seed
from plugin.helpdesk.fake.state import FakeHelpdeskState

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8901


def create_fake_helpdesk(state=None, *, demo=True):
    """The fake helpdesk as a WSGI app over `state` (with the demo token and books unless demo=False)."""
    app = Flask(__name__)
    app.json.ensure_ascii = False
    st = state or FakeHelpdeskState()
    app.extensions["fake_helpdesk"] = st
    for blueprint in (api.bp, page.bp, control.bp):
        app.register_blueprint(blueprint)

    @app.errorhandler(404)
    def _not_found(exc):
        return jsonify(message="not found"), 404

    @app.errorhandler(405)
    def _method(exc):
        return jsonify(message="method not allowed"), 405

    if demo:
        with st.lock:
            seed(st)
    return app
