"""What a mall-specific scanner hands to the poller."""
from dataclasses import dataclass


@dataclass
class Snapshot:
    """One inquiry as seen now: its change marker and (when it changed) every message, oldest first."""

    inquiry_id: str
    marker: str | None
    started_at: object  # aware datetime of the inquiry's creation / first post
    messages: list | None
    unchanged: bool = False
