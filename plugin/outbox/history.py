"""Read side of the outbox for the admin UI and CLI: pages of rows, counts, message preview."""
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

from sqlalchemy import func, select

from plugin.extensions import db
from plugin.outbox.models import STATES, OutboxAttempt, OutboxMessage

PER_PAGE = 50
PREVIEW_CHARS = 20000


@dataclass
class Page:
    """One page of history rows, newest first."""

    rows: list
    page: int
    pages: int
    total: int


def page_of(state=None, page=1, per_page=PER_PAGE):
    """Rows newest first, optionally of one state; page numbers start at 1 and are clamped."""
    query = select(OutboxMessage)
    count = select(func.count(OutboxMessage.id))
    if state in STATES:
        query = query.where(OutboxMessage.state == state)
        count = count.where(OutboxMessage.state == state)
    total = db.session.scalar(count) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = db.session.scalars(query.order_by(OutboxMessage.id.desc())
                              .offset((page - 1) * per_page).limit(per_page)).all()
    return Page(rows=rows, page=page, pages=pages, total=total)


def counts():
    """{state: number of rows} for the state filter."""
    found = dict(db.session.execute(select(OutboxMessage.state, func.count(OutboxMessage.id))
                                    .group_by(OutboxMessage.state)).all())
    return {s: found.get(s, 0) for s in STATES}


def attempts(row):
    """The row's delivery attempts, oldest first."""
    return db.session.scalars(select(OutboxAttempt).where(OutboxAttempt.outbox_id == row.id)
                              .order_by(OutboxAttempt.id)).all()


@dataclass
class Preview:
    """Decoded headers, the first text body and the attachments of a stored message."""

    headers: list
    body: str
    truncated: bool
    attachments: list


def preview(raw):
    """Parse stored MIME for display; never raises on a malformed message."""
    try:
        msg = BytesParser(policy=policy.default).parsebytes(bytes(raw))
        headers = [(name, str(value)) for name, value in msg.items()]
    except Exception as exc:  # noqa: BLE001 - show what we can instead of failing the page
        return Preview(headers=[], body=f"(解析できません: {exc})", truncated=False, attachments=[])
    body, attachments = "", []
    for part in msg.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            size = len(part.get_payload(decode=True) or b"")
            attachments.append((filename or "(名前なし)", part.get_content_type(), size))
        elif not body and part.get_content_type() == "text/plain":
            try:
                body = part.get_content()
            except (LookupError, ValueError, AttributeError):
                body = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    if not body:
        html = msg.get_body(preferencelist=("html",))
        if html is not None:
            body = "(HTML) " + html.get_content()
    truncated = len(body) > PREVIEW_CHARS
    return Preview(headers=headers, body=body[:PREVIEW_CHARS], truncated=truncated, attachments=attachments)
