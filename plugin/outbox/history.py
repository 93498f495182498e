"""Read side of the outbox for the admin UI and CLI: pages of rows, counts, message preview, the
Japanese labels of kinds, and the id lists of a release (what an admin approved, to show after)."""
import re
from dataclasses import dataclass
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser

from sqlalchemy import func, select

from plugin.extensions import db
from plugin.outbox.models import STATES, OutboxAttempt, OutboxMessage

PER_PAGE = 50
PREVIEW_CHARS = 20000
# What each `kind` of mail is, for shop staff (the codes stay internal).
KIND_LABELS = {
    "mall": "モールの問い合わせ",
    "form_shop": "フォーム：店舗への通知",
    "form_ack": "フォーム：お客様への自動返信",
    "reply_bounce": "返信の差し戻し（担当者宛て）",
    "reminder": "期限切れの予告（管理者宛て）",
    "mail": "その他のメール",
}
_ID_RANGES = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
MAX_RANGE_IDS = 100_000


def kind_label(kind):
    """Japanese name of a mail kind; an unknown kind is "その他のメール", never its code."""
    return KIND_LABELS.get(kind) or KIND_LABELS["mail"]


def attempts_shown(row):
    """Delivery attempts as the admin reads them: the failed ones, plus the one that got it out.

    `attempts` counts failures only (it is the retry budget, reset by a requeue), so a mail sent
    at the first try says 0 there: it was tried once."""
    attempts = row.attempts or 0
    return attempts + 1 if row.state == "sent" else attempts


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


def page_of_ids(ids, page=1, per_page=PER_PAGE):
    """The rows with these ids (e.g. one release), newest first, paged like page_of."""
    newest_first = sorted(set(ids), reverse=True)
    pages = max(1, -(-len(newest_first) // per_page))
    page = min(max(1, page), pages)
    chunk = newest_first[(page - 1) * per_page:page * per_page]
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(chunk))
                              .order_by(OutboxMessage.id.desc())).all() if chunk else []
    return Page(rows=rows, page=page, pages=pages, total=len(newest_first))


def counts_of_ids(ids):
    """{state: number} among the rows with these ids (states with none left out)."""
    found = {}
    ids = list(ids)
    for start in range(0, len(ids), 1000):  # stay below every database's bound-parameter limit
        chunk = ids[start:start + 1000]
        for state, n in db.session.execute(select(OutboxMessage.state, func.count(OutboxMessage.id))
                                           .where(OutboxMessage.id.in_(chunk)).group_by(OutboxMessage.state)):
            found[state] = found.get(state, 0) + n
    return {s: found[s] for s in STATES if found.get(s)}


def staged_ids(upto=None):
    """Ids of the staged rows (those with id <= upto when given), oldest first."""
    query = select(OutboxMessage.id).where(OutboxMessage.state == "staged")
    if upto is not None:
        query = query.where(OutboxMessage.id <= upto)
    return list(db.session.scalars(query.order_by(OutboxMessage.id)))


def encode_ids(ids):
    """Ids as compact ranges, "3-40,42": a backfill's rows are nearly consecutive."""
    out, ids = [], sorted(set(ids))
    start = prev = None
    for i in ids + [None]:
        if start is not None and i == prev + 1:
            prev = i
            continue
        if start is not None:
            out.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = i
    return ",".join(out)


def decode_ids(text):
    """The ids of encode_ids(), or None when `text` is not such a list (or names absurdly many)."""
    text = (text or "").strip()
    if not _ID_RANGES.match(text):
        return None
    ids = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        first, last = int(first), int(last or first)
        if last < first or len(ids) + last - first >= MAX_RANGE_IDS:
            return None
        ids.extend(range(first, last + 1))
    return ids


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


def header_text(raw_value):
    """A header as written in the mail, decoded once as RFC 2047 says: the space between two
    encoded words goes (the email package keeps it inside a long Japanese name)."""
    if not raw_value.isascii():  # raw 8-bit bytes (not mallbridge's own mail): read them as UTF-8
        raw_value = raw_value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", raw_value)
    try:
        return str(make_header(decode_header(unfolded)))
    except (ValueError, LookupError, UnicodeError):
        return unfolded


def preview(raw):
    """Parse stored MIME for display; never raises on a malformed message."""
    try:
        msg = BytesParser(policy=policy.default).parsebytes(bytes(raw))
        headers = [(name, header_text(value)) for name, value in msg.raw_items()]
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
