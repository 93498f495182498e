"""No mall secret in any log line, stored error or connection-test message when a mall call fails:
connection refused, timeout, HTTP error; every log level, urllib3's own DEBUG lines included."""
import base64
import http.server
import json
import logging
import socket
import threading

import pytest

from plugin import settings
from plugin.demo.malls import demo_account_values
from plugin.extensions import db
from sync import accounts, poller
from sync.malls.rakuten.client import esa_header
from sync.models import MallAccount

LICENSE_KEY = "SL999999_LicenseKeyVerySecret7f3a"
SERVICE_SECRET = "SP999999_ServiceSecret5e8d0b44"
CLIENT_SECRET = "YahooClientSecret9c21ab"
REFRESH_TOKEN = "YahooRefreshToken4d77ee"
SECRETS = [LICENSE_KEY, SERVICE_SECRET, CLIENT_SECRET, REFRESH_TOKEN,
           esa_header(SERVICE_SECRET, LICENSE_KEY).split(" ", 1)[1],
           base64.b64encode(f"{demo_account_values('yahoo')['client_id']}:{CLIENT_SECRET}".encode()).decode()]


class _Failing(http.server.BaseHTTPRequestHandler):
    """Answers every call with an error status and a mall-style JSON error body."""

    status = 500

    def _answer(self):
        body = json.dumps({"errors": [{"code": "E500", "message": "internal error"}]}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass  # the test server's own access log is not mallbridge's


def _http_error_server(status):
    handler = type("Failing", (_Failing,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server.shutdown, server.server_close


def _closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}", lambda: None


def _silent_server():
    """Accepts connections (the kernel's backlog) and never answers: every read times out."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", sock.close


@pytest.fixture(params=["connection", "timeout", "http500", "http401"])
def failing_mall(request, app, monkeypatch, slept):
    """Every mall base URL of the app points at a failing endpoint of the given kind."""
    if request.param == "connection":
        base, *stops = _closed_port()
    elif request.param == "timeout":
        base, *stops = _silent_server()
        real = accounts.client_for

        def quick(account):  # a short read timeout: the silent server would otherwise hold 20 s
            client = real(account)
            client.http.timeout = (5.0, 0.3)
            return client

        monkeypatch.setattr(accounts, "client_for", quick)
    else:
        base, *stops = _http_error_server(int(request.param[4:]))
    settings.set_value("sync.pacing_ms", 0, actor="test")  # no 1-second spacing between the calls
    app.config.update(RAKUTEN_API_BASE=base + "/es/1.0", YAHOO_API_BASE=base + "/yahoo/V1",
                      YAHOO_AUTH_BASE=base + "/yconnect/v2")
    try:
        yield request.param
    finally:
        for stop in stops:
            stop()


def _accounts():
    rakuten = accounts.add("rakuten", "default", demo_account_values("rakuten")
                           | {"service_secret": SERVICE_SECRET, "license_key": LICENSE_KEY})
    yahoo = accounts.add("yahoo", "default", demo_account_values("yahoo")
                         | {"client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN})
    db.session.commit()
    return rakuten, yahoo


def _leaks(texts):
    return [(secret, text) for text in texts for secret in SECRETS if secret and secret in text]


def test_failing_mall_calls_never_log_a_secret(app, failing_mall, caplog):
    """Polls and connection tests of both malls fail; no log line, stored error or message holds a secret."""
    caplog.set_level(logging.DEBUG)
    rakuten, yahoo = _accounts()
    shown = []
    for account in (rakuten, yahoo):
        shown.append(str(poller.poll_account(account).error))
        shown.extend(check.detail for check in accounts.connection_test(account))
    db.session.expire_all()
    for account in db.session.query(MallAccount):
        shown.extend([str(account.last_error), str(account.last_error_ja)])
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    assert any("urllib3" in line or "mallbridge" in line for line in lines), "the failures were logged"
    assert _leaks(lines) == []
    assert _leaks(shown) == []
