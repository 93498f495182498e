"""Benchmark of the address-book push (issue 13): see bench/helpdesk/run.py."""
