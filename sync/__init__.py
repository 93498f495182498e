"""Mall sync: clients, poller, composing mails, reply intake (coming with the sync issues)."""
