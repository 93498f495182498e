"""`python -m bench.sync`: see bench/sync/run.py."""
import sys

from bench.sync.run import main

sys.exit(main())
