"""The `fake-mall` command (also runnable as `python -m sync.fake_mall`, without any mallbridge config)."""
import os

import click

from sync.fake_mall import DEFAULT_HOST, DEFAULT_PORT
from sync.fake_mall.seed import DEMO_RAKUTEN, DEMO_YAHOO, add_demo_accounts, demo_public_key_pem
from sync.fake_mall.server import FakeMallServer
from sync.fake_mall.state import FakeMallState


def write_demo_key(path):
    """Write the demo store's public key where `accounts add yahoo --public-key-file` can read it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="ascii") as fh:
        fh.write(demo_public_key_pem())
    return os.path.abspath(path)


def banner(server, key_file, seeded):
    """What to set and which credentials to use, printed when the fake mall starts."""
    r, y = DEMO_RAKUTEN, DEMO_YAHOO
    lines = [f"fake mall listening on {server.url}  (control API: {server.url}/_control)", "",
             "Point mallbridge at it:"]
    lines += [f"  export {name}={value}" for name, value in server.bases.items()]
    lines += ["", "Demo accounts" + (" (seeded with sample inquiries):" if seeded else ":"),
              (f"  mallbridge accounts add rakuten --shop default --shop-id {r['shop_id']} "
              f"--service-secret {r['service_secret']} --license-key {r['license_key']}"),
              (f"  mallbridge accounts add yahoo --shop default --seller-id {y['seller_id']} "
              f"--client-id {y['client_id']} "
              f"--client-secret {y['client_secret']} --refresh-token {y['refresh_token']} "
              f"--public-key-file {key_file} --key-version {y['key_version']}"), ""]
    return "\n".join(lines)


def run(host, port, seed, rate_limit, key_file):
    """Start the fake mall in the foreground until Ctrl-C."""
    state = FakeMallState(rate_limit=rate_limit or None)
    server = FakeMallServer(state, host, port, seed=seed)
    if not seed:
        with state.lock:
            add_demo_accounts(state)
    click.echo(banner(server, write_demo_key(key_file), seed))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("fake mall stopped")


def options(fn):
    """The command's options, shared by `mallbridge fake-mall` and `python -m sync.fake_mall`."""
    fn = click.option("--key-file", default=None,
                      help="Where to write the demo Yahoo! public key "
                           "(default: instance/fake-mall/yahoo-demo.pem).")(fn)
    fn = click.option("--rate-limit", type=float, default=10.0, show_default=True,
                      help="Requests per second per account before 429 (0 = unlimited).")(fn)
    fn = click.option("--seed", is_flag=True, help="Add demo inquiries (Rakuten and Yahoo!).")(fn)
    fn = click.option("--port", type=int, default=DEFAULT_PORT, show_default=True)(fn)
    fn = click.option("--host", default=DEFAULT_HOST, show_default=True)(fn)
    return fn


@click.command("fake-mall", help="Run a local imitation of the Rakuten and Yahoo! message APIs.")
@options
def main(host, port, seed, rate_limit, key_file):
    """Standalone entry point."""
    run(host, port, seed, rate_limit, key_file or os.path.join("instance", "fake-mall", "yahoo-demo.pem"))
