"""Serving the fake helpdesk: in a background thread (tests) or in the foreground (CLI)."""
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from plugin.helpdesk.fake import DEFAULT_HOST, create_fake_helpdesk
from plugin.helpdesk.fake.state import FakeHelpdeskState


class _KeepAlive(WSGIRequestHandler):
    # HTTP/1.1 keeps the client's connection open between requests, like the real API's server.
    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs):
        """Quiet: the page and the control API show what happened."""


class FakeHelpdeskServer:
    """A threaded werkzeug server on `port` (0 = any free port); use as a context manager."""

    def __init__(self, state=None, host=DEFAULT_HOST, port=0, *, demo=True, quiet=True):
        self.state = state or FakeHelpdeskState()
        self.app = create_fake_helpdesk(self.state, demo=demo)
        handler = _KeepAlive if quiet else type("_Loud", (_KeepAlive,), {"log_request": WSGIRequestHandler.log_request})
        self._server = make_server(host, port, self.app, threaded=True, request_handler=handler)
        self.host, self.port = host, self._server.port
        self._thread = None

    @property
    def url(self):
        """http://host:port of the running server."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self):
        """The value for MALLBRIDGE_HELPDESK_API_BASE."""
        return self.url + "/api/v2"

    def start(self):
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-helpdesk", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def serve_forever(self):
        """Serve in the calling thread until interrupted."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
