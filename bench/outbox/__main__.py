"""`python -m bench.outbox`: see bench/outbox/run.py."""
import sys

from bench.outbox.run import main

sys.exit(main())
