"""`python -m bench.scale`: see bench/scale/run.py."""
import sys

from bench.scale.run import main

sys.exit(main())
