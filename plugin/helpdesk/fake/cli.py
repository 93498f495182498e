"""The `fake-helpdesk` command (also `python -m plugin.helpdesk.fake`, without any mallbridge config)."""
import click

from plugin.helpdesk.fake import DEFAULT_HOST, DEFAULT_PORT
from plugin.helpdesk.fake.seed import DEMO_BOOK, DEMO_TOKEN
from plugin.helpdesk.fake.server import FakeHelpdeskServer
from plugin.helpdesk.fake.state import DEFAULT_LIMIT, FakeHelpdeskState


def banner(server):
    """What to set to point mallbridge at the fake, printed when it starts."""
    limit = server.state.limit
    return "\n".join([
        f"fake helpdesk listening on {server.url}  (address books: {server.url}/ , control: {server.url}/_control)",
        f"rate limit: {limit} requests a minute per token" if limit else "rate limit: off",
        "", "Point mallbridge at it:",
        f"  export MALLBRIDGE_HELPDESK_API_BASE={server.api_base}",
        (f"  echo {DEMO_TOKEN} | mallbridge helpdesk set --env demo --api-token-stdin --address-book {DEMO_BOOK} "
         "--push on"), ""])


@click.command("fake-helpdesk", help="Run a local imitation of the helpdesk's Open API (address books).")
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True)
@click.option("--rate-limit", type=int, default=DEFAULT_LIMIT, show_default=True,
              help="Requests per minute and token before 403 (0 = unlimited, for benchmarks).")
@click.option("--verbose", is_flag=True, help="Log every request.")
def main(host, port, rate_limit, verbose):
    """Start the fake helpdesk in the foreground until Ctrl-C."""
    server = FakeHelpdeskServer(FakeHelpdeskState(limit=rate_limit), host, port, quiet=not verbose)
    click.echo(banner(server))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("fake helpdesk stopped")


COMMANDS = [main]
