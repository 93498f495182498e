"""The fake mall of the scale benchmark as a process of its own (so its request handling does not
share a GIL with the benchmark's SMTP sink): N Rakuten shops with M inquiries each.

    python -m bench.scale.mall PORT SHOPS PER_SHOP     (prints "ready" once it serves)
"""
import logging
import sys

from bench.scale.data import add_shops, fill
from sync.fake_mall.server import FakeMallServer
from sync.fake_mall.state import FakeMallState


def main(port: int, shops: int, per_shop: int) -> None:
    """Fill the world, then serve until killed."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request costs the GIL
    state = FakeMallState(rate_limit=None)
    with state.lock:
        fill(state, add_shops(state, shops), per_shop)
    server = FakeMallServer(state, port=port)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
