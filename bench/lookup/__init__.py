"""E-mail lookup benchmark: bulk loader, bare-Flask baseline, wrk runner."""
