"""Serving the fake mall: in a background thread (tests) or in the foreground (CLI)."""
import threading

from werkzeug.serving import make_server

from sync.fake_mall import DEFAULT_HOST, create_fake_mall
from sync.fake_mall.control import bases
from sync.fake_mall.state import FakeMallState


class FakeMallServer:
    """A threaded werkzeug server on `port` (0 = any free port); use as a context manager."""

    def __init__(self, state=None, host=DEFAULT_HOST, port=0, *, seed=False):
        self.state = state or FakeMallState()
        self.app = create_fake_mall(self.state, seed=seed)
        self._server = make_server(host, port, self.app, threaded=True)
        self.host, self.port = host, self._server.port
        self._thread = None

    @property
    def url(self):
        """http://host:port of the running server."""
        return f"http://{self.host}:{self.port}"

    @property
    def bases(self):
        """The MALLBRIDGE_* base URLs pointing at this server."""
        return bases(self.url)

    def start(self):
        """Serve in a daemon thread."""
        # A short poll interval makes stop() quick (tests start and stop one server each).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-mall", daemon=True)
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
