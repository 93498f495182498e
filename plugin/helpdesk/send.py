"""Create-or-update of one contact, idempotent: running it twice never makes two contacts.

- A contact never pushed before is created (POST). If the helpdesk refuses that (400), the
  contact may exist already (an earlier run sent it and crashed before noting it): it is looked
  up by system_id1 and updated. Otherwise its e-mail addresses are looked up one by one:
  an address on a contact without system_id1 (made by hand from a ticket) → that contact is
  taken over (PUT by e-mail, setting our system_id1); on one of our mall-customer contacts while
  this is a member → that contact is superseded and deleted; on another member's contact (a
  family sharing one address) → the address is left out of this one. Then one more try.
- A contact pushed before is updated by system_id1 (PUT); gone from the book (404) → created.
- A contact whose creation may have been sent by a run that crashed (`pending`) is first looked
  up by system_id1.
Errors that concern the whole pass (token, limit, book, server down) are raised to the caller.
"""
import dataclasses
import logging

from plugin.helpdesk import mapping
from plugin.helpdesk.api import HelpdeskApi, NotFound, Refused
from plugin.helpdesk.mapping import Contact

log = logging.getLogger(f"mallbridge.{__name__}")


@dataclasses.dataclass
class Outcome:
    """What became of one contact: ok (created/updated/adopted) or refused, and notes for the report."""

    status: str
    action: str
    customer_id: int | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    superseded: list[str] = dataclasses.field(default_factory=list)  # system_id1 of deleted contacts


def push(api: HelpdeskApi, book: int, contact: Contact, *, known: bool, maybe_sent: bool) -> Outcome:
    """Create or update `contact` in `book`. known: pushed before; maybe_sent: a crashed run may have."""
    if known or maybe_sent:
        try:
            if maybe_sent and not known:
                api.get_by_system_id(book, contact.system_id1)
            return _update(api, book, contact)
        except NotFound:
            pass
    return _create(api, book, contact)


def _update(api, book, contact, notes=None) -> Outcome:
    notes = list(notes or [])
    try:
        answer = api.update_by_system_id(book, contact.system_id1, mapping.body(contact, with_system_id=False))
        return Outcome("ok", "updated", mapping.customer_id_of(answer), notes)
    except Refused as exc:
        outcome = Outcome("ok", "updated", None, notes)
        fixed = _untangle(api, book, contact, outcome, exists=True)
        if fixed is None:
            return outcome
        if fixed == contact and not outcome.superseded:  # nothing to untangle: the data itself is refused
            return Outcome("refused", "updated", None, [exc.message])
        try:
            answer = api.update_by_system_id(book, contact.system_id1, mapping.body(fixed, with_system_id=False))
        except Refused as again:
            return Outcome("refused", "updated", None, outcome.notes + [again.message or exc.message])
        outcome.customer_id = mapping.customer_id_of(answer)
        return outcome


def _create(api, book, contact) -> Outcome:
    try:
        answer = api.create(book, mapping.body(contact))
        return Outcome("ok", "created", mapping.customer_id_of(answer))
    except Refused as exc:
        first_error = exc.message
    try:  # ours already? (created by a run that could not note it)
        api.get_by_system_id(book, contact.system_id1)
    except NotFound:
        pass
    else:
        return _update(api, book, contact)
    outcome = Outcome("ok", "created")
    fixed = _untangle(api, book, contact, outcome, exists=False)
    if fixed is None:
        return outcome
    if fixed == contact and not outcome.superseded:
        return Outcome("refused", "created", None, [first_error])
    try:
        answer = api.create(book, mapping.body(fixed))
    except Refused as again:
        return Outcome("refused", "created", None, outcome.notes + [again.message or first_error],
                       outcome.superseded)
    outcome.customer_id = mapping.customer_id_of(answer)
    return outcome


def _untangle(api, book, contact: Contact, outcome: Outcome, *, exists: bool) -> Contact | None:
    """Sort out addresses that belong to other contacts; None when `outcome` is final (taken over)."""
    current = contact
    for address in contact.addresses:
        try:
            owner = api.get_by_email(book, address)
        except NotFound:
            continue
        owner_id = mapping.system_id_of(owner)
        if owner_id == contact.system_id1:
            continue
        if owner_id is None and not exists:
            try:
                answer = api.update_by_email(book, address, mapping.body(current))
            except Refused:
                pass  # it cannot take this contact's data either: leave the address out below
            else:
                outcome.action, outcome.customer_id = "adopted", mapping.customer_id_of(answer)
                outcome.notes.append(f"{address} の既存のコンタクトを引き継ぎました")
                return None
        elif mapping.is_mall_contact(owner_id) and contact.subject.startswith("m:"):
            # The mall customer turned out to be this member: one contact instead of two.
            try:
                api.delete_by_system_id(book, owner_id)
            except NotFound:
                pass  # deleted meanwhile: all the better
            outcome.superseded.append(owner_id)
            continue
        current = current.without(address)
        outcome.notes.append(f"{address} は別のコンタクト（{owner_id or '手動で登録されたもの'}）が使っているため送りませんでした")
    return current
