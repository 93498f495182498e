"""`python -m bench.helpdesk`: see bench/helpdesk/run.py."""
import sys

from bench.helpdesk.run import main

sys.exit(main())
