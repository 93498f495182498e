"""Scale-out benchmark (issue 14.11): 1 vs 2 `sync run` and 1 vs 2 `outbox run` on one database."""
