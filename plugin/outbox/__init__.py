"""The outbox: every mail mallbridge sends is stored here first, then delivered by the worker.

Callers use `enqueue(msg, …)` inside their own transaction (it does not commit), so the mail
exists exactly when their own rows do. `mallbridge outbox run` delivers it.
"""
from plugin.outbox import options
from plugin.outbox.models import STATE_LABELS, STATES, OutboxAttempt, OutboxMessage
from plugin.outbox.store import OutboxError, discard, enqueue, release, requeue, system_sender

__all__ = ["STATES", "STATE_LABELS", "OutboxAttempt", "OutboxError", "OutboxMessage", "discard", "enqueue", "release",
           "requeue", "system_sender"]


def banners():
    """UI warnings about mail delivery (the sandbox address is active)."""
    address = options.sandbox_address()
    if address:
        return [f"送信先の差し替えが有効です：すべてのメールは {address} に送られ、本来の宛先には届きません。"]
    return []

