"""A stateful imitation of Rakuten R-Messe and Yahoo! store Q&A for the demo and e2e tests.

Served paths (under one host):
  /rakuten/es/1.0/...              MALLBRIDGE_RAKUTEN_API_BASE
  /yahoo/ShoppingWebService/V1/... MALLBRIDGE_YAHOO_API_BASE
  /yahoo/yconnect/v2/token         MALLBRIDGE_YAHOO_AUTH_BASE
  /_control/...                    JSON control API (see docs/fake-mall.md)
Needs no database and no mallbridge app.
"""
from flask import Flask, jsonify

from sync.fake_mall import control, rakuten_api, web, yahoo_api
from sync.fake_mall.seed import seed as run_seed
from sync.fake_mall.state import FakeMallState

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8900


def create_fake_mall(state=None, *, seed=False):
    """The fake mall as a WSGI app over `state` (a fresh FakeMallState by default)."""
    app = Flask(__name__)
    app.json.ensure_ascii = False
    st = state or FakeMallState()
    app.extensions["fake_mall"] = st
    for bp in (rakuten_api.bp, yahoo_api.api, yahoo_api.auth, control.bp):
        app.register_blueprint(bp)
    app.register_error_handler(web.ApiError, web.handle_api_error)
    app.after_request(web.finish)

    @app.errorhandler(404)
    def _not_found(exc):
        return jsonify(error="not found", hint="see /_control for the served base URLs"), 404

    @app.errorhandler(405)
    def _method(exc):
        return jsonify(error="method not allowed"), 405

    @app.errorhandler(500)
    def _crash(exc):
        return jsonify(error="fake mall internal error"), 500

    if seed:
        with st.lock:
            run_seed(st)
    return app
