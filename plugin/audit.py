"""The audit log: who did what, when, with what result."""
from typing import Any

from flask import request
from flask_login import current_user
from sqlalchemy import insert

from plugin.extensions import db
from plugin.models import AuditLog

# Built once: a Core insert skips the ORM unit of work (about 1 ms CPU less per row).
_INSERT = insert(AuditLog.__table__)


def entry(action: str, query: Any = None, result_count: int | None = None, actor: str | None = None,
          user_id: int | None = None, detail: str | None = None) -> dict[str, Any]:
    """The values of one audit row for the current request: its IP, and its user unless `actor` is given."""
    if actor is None:
        if current_user and current_user.is_authenticated:
            actor, user_id = current_user.email, current_user.id
        else:
            actor = "anonymous"
    return {"actor": actor, "user_id": user_id, "action": action, "params": query, "result_count": result_count,
                "ip": request.remote_addr, "detail": detail}


def record(action, query=None, result_count=None, actor=None, detail=None, commit=True):
    """Write one audit row for the current request's user (or the given actor)."""
    values = entry(action, query, result_count, actor=actor, detail=detail)
    if not commit:
        # Part of the caller's unit of work: flushed with (and ordered after) its pending rows.
        db.session.add(AuditLog(**values))
        return
    db.session.execute(_INSERT, values)
    db.session.commit()
