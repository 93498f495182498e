"""`python -m sync.fake_mall [--port P] [--seed]`: the fake mall without any mallbridge config."""
from sync.fake_mall.cli import main

main(prog_name="python -m sync.fake_mall")
