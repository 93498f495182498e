"""`python -m plugin.helpdesk.fake [--port P]`: the fake helpdesk without any mallbridge config."""
from plugin.helpdesk.fake.cli import main

main(prog_name="python -m plugin.helpdesk.fake")
