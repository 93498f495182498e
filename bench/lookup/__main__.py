"""`python -m bench.lookup`: see bench/lookup/run.py."""
import sys

from bench.lookup.run import main

sys.exit(main())
