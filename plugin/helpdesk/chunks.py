"""One chunk of contacts: compare with the book's stored state, mark the new ones `pending`, send,
write down the outcomes. The rows are written with one Core statement per kind and chunk (a
100,000-member backlog must not pay the ORM's per-object bookkeeping twice per contact).

Crash safety: the `pending` rows are committed before anything is sent; the outcomes and the
chunk's cursor move are committed together at the end. A pass cut short by an error keeps the
outcomes it has and leaves the cursor where it was.
"""
import dataclasses
import logging

from sqlalchemy import bindparam, func, insert, select, update

from plugin import clock
from plugin.extensions import db
from plugin.helpdesk import send
from plugin.helpdesk.api import HelpdeskError
from plugin.helpdesk.mapping import Contact, content_hash
from plugin.helpdesk.models import PushedContact

log = logging.getLogger(f"mallbridge.{__name__}")
TABLE = PushedContact.__table__
CONTACT_FAILURES = 3  # server errors on one contact before it is reported as refused
_DONE = (update(TABLE).where(TABLE.c.target == bindparam("b_target"), TABLE.c.subject == bindparam("b_subject"))
         .values(system_id1=bindparam("b_system_id1"), label=bindparam("b_label"),
                 content_hash=bindparam("b_hash"), status=bindparam("b_status"), failures=0,
                 pushed_at=bindparam("b_now"), updated_at=bindparam("b_now"), error=bindparam("b_error"),
                 customer_id=func.coalesce(bindparam("b_customer_id"), TABLE.c.customer_id)))
_FAILED = (update(TABLE).where(TABLE.c.target == bindparam("b_target"), TABLE.c.subject == bindparam("b_subject"))
           .values(failures=bindparam("b_failures")))


@dataclasses.dataclass
class Item:
    """A contact to send: `known` is new | known (pushed before) | pending (a crashed run may have)."""

    contact: Contact
    digest: str
    known: str
    failures: int


def push_chunk(senders, target, contacts, report) -> None:
    """Send what changed among `contacts`; raises the first error that concerns the whole pass."""
    stored = {row.subject: row for row in db.session.execute(
        select(TABLE.c.subject, TABLE.c.status, TABLE.c.content_hash, TABLE.c.system_id1, TABLE.c.failures)
        .where(TABLE.c.target == target.key, TABLE.c.subject.in_([c.subject for c in contacts])))}
    todo, new_rows = [], []
    for contact in contacts:
        digest, row = content_hash(contact), stored.get(contact.subject)
        if row is not None and row.content_hash == digest and row.status in ("ok", "refused"):
            report.unchanged += 1
        elif row is None:
            new_rows.append({"target": target.key, "subject": contact.subject, "system_id1": contact.system_id1,
                             "status": "pending", "label": contact.label[:255], "failures": 0,
                             "updated_at": clock.now()})
            todo.append(Item(contact, digest, "new", 0))
        else:
            known = row.status in ("ok", "refused", "superseded") and row.system_id1 == contact.system_id1
            todo.append(Item(contact, digest, "known" if known else "pending", row.failures or 0))
    if new_rows:
        db.session.execute(insert(TABLE), new_rows)
    db.session.commit()  # `pending` is on disk before any creation is sent
    notes = _Notes(target.key, report)
    while todo:
        results, error = senders.send(target.book_id, todo), None
        for item, result in results:
            if isinstance(result, HelpdeskError):
                result = _contact_error(item, result, notes)
                if isinstance(result, HelpdeskError):
                    error = error or result
                    continue
            notes.add(item, result)
        if error is not None:
            notes.write()
            db.session.commit()  # keep what was done; the chunk's cursor stays
            raise error
        todo = todo[len(results):]  # one by one, the sending stopped at an error that was this contact's
    notes.write()


def _contact_error(item: Item, exc: HelpdeskError, notes):
    """A server error on one contact, for the third pass in a row, becomes that contact's refusal;
    anything else stays an error of the pass."""
    if exc.status is None or exc.status < 500:
        return exc
    if item.failures + 1 < CONTACT_FAILURES:
        notes.failed.append({"b_target": notes.target, "b_subject": item.contact.subject,
                             "b_failures": item.failures + 1})
        return exc
    return send.Outcome("refused", "error", None, [f"ヘルプデスクがエラーを返し続けます（{exc.status}）: {exc.message}"])


class _Notes:
    """Outcomes collected for one write."""

    def __init__(self, target_key, report):
        self.target, self.report = target_key, report
        self.done, self.failed, self.superseded = [], [], []

    def add(self, item: Item, outcome) -> None:
        """Note one contact's outcome and count it in the pass report."""
        contact, error = item.contact, "\n".join(outcome.notes)[:2000] or None
        self.done.append({"b_target": self.target, "b_subject": contact.subject, "b_system_id1": contact.system_id1,
                          "b_label": contact.label[:255], "b_hash": item.digest, "b_status": outcome.status,
                          "b_now": clock.now(), "b_error": error, "b_customer_id": outcome.customer_id})
        self.superseded += [(system_id1, contact.system_id1) for system_id1 in outcome.superseded]
        if outcome.status == "refused":
            self.report.refused.append((contact.label, error or ""))
            log.warning("helpdesk refused %s (%s): %s", contact.system_id1, contact.subject, error)
        elif outcome.action == "created":
            self.report.created += 1
        else:
            self.report.updated += 1

    def write(self) -> None:
        """Write the collected outcomes (the caller commits)."""
        if self.done:
            db.session.execute(_DONE, self.done)
        if self.failed:
            db.session.execute(_FAILED, self.failed)
        for old, new in self.superseded:
            db.session.execute(update(TABLE).where(TABLE.c.target == self.target, TABLE.c.system_id1 == old)
                               .values(status="superseded", error=f"{new} に統合しました", updated_at=clock.now()))
        self.done, self.failed, self.superseded = [], [], []
