"""The fake helpdesk's world: tokens, address books and their contacts, the rate limit, faults.

One RLock guards everything; the API holds it for a whole request, so the threaded server never
sees half-written contacts. The rules are the real API's (docs/helpdesk.md): one e-mail address
belongs to one contact of a book, one system_id1 too; at most 6 archived e-mails and 3 archived
phones; `last_name` on creation; 60 requests a minute per token (a fixed one-minute window whose
end is `X-RateLimit-Reset`), the 61st answered 403.
"""
import collections
import itertools
import re
import threading
import time

DEFAULT_LIMIT = 60
WINDOW = 60.0
MAX_EMAILS = 6
MAX_ARCHIVED_EMAILS = 6
MAX_TELS = 3
MAX_ARCHIVED_TELS = 3
MAX_TEXT = 255
TEXT_FIELDS = ("last_name", "first_name", "last_name_kana", "first_name_kana", "company_name", "title", "url",
               "default_assignee", "system_id1")
LIST_FIELDS = {"emails": ("email", MAX_EMAILS), "archived_emails": ("email", MAX_ARCHIVED_EMAILS),
               "tels": ("tel", MAX_TELS), "archived_tels": ("tel", MAX_ARCHIVED_TELS)}
KNOWN_FIELDS = {*TEXT_FIELDS, *LIST_FIELDS, "gender_cd", "badge_ids"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TEL = re.compile(r"^\+?[0-9][0-9\-() ]{1,30}$")
LOG_SIZE = 500_000  # requests kept for /_control/requests (the benchmark reads their times)


class Invalid(ValueError):
    """A 400 with this message."""


class FakeHelpdeskState:
    """Everything the fake helpdesk knows; methods expect the caller to hold `lock`."""

    def __init__(self, limit=DEFAULT_LIMIT, clock=time.time):
        self.lock = threading.RLock()
        self.clock = clock
        self.default_limit = limit
        self.reset()

    def reset(self):
        """Forget every token, book, contact, fault and counter."""
        with self.lock:
            self.limit = self.default_limit
            self.tokens = set()
            self.books = {}  # id → {"name", "message_box_ids", "contacts": {customer_id: dict}}
            self.windows = {}  # token → [window start, requests in it]
            self.faults = []
            self.requests = collections.deque(maxlen=LOG_SIZE)  # (time, method, path, status)
            self._ids = itertools.count(1)

    # -- setup -----------------------------------------------------------------------------------
    def add_token(self, token):
        """Accept `token` as a valid API token."""
        self.tokens.add(token)

    def add_book(self, book_id, name, message_box_ids=()):
        """An (empty) address book."""
        self.books[int(book_id)] = {"name": name, "message_box_ids": list(message_box_ids), "contacts": {},
                                    "by_sid": {}, "by_email": {}}
        return self.books[int(book_id)]

    def add_fault(self, status, count=1, path=None, message=None):
        """Answer the next `count` API requests (whose path contains `path`) with `status`."""
        self.faults.append({"status": int(status), "count": int(count), "path": path, "message": message})

    def take_fault(self, path):
        """The first queued fault for this path (used up by one), or None."""
        for fault in self.faults:
            if fault["count"] > 0 and (not fault["path"] or fault["path"] in path):
                fault["count"] -= 1
                if fault["count"] == 0:
                    self.faults.remove(fault)
                return fault
        return None

    # -- rate limit ------------------------------------------------------------------------------
    def count_request(self, token):
        """Count one request of `token`; (allowed, headers) for the answer."""
        now = self.clock()
        window = self.windows.get(token)
        if window is None or now >= window[0] + WINDOW:
            window = self.windows[token] = [now, 0]
        window[1] += 1
        if not self.limit:
            return True, {}
        reset = int(window[0] + WINDOW + 0.999)
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(max(self.limit - window[1], 0)),
                   "X-RateLimit-Reset": str(reset)}
        return window[1] <= self.limit, headers

    def log(self, method, path, status):
        """Remember a request (time of arrival, method, path, status)."""
        self.requests.append((self.clock(), method, path, status))

    # -- contacts --------------------------------------------------------------------------------
    def contacts(self, book_id):
        """The contacts of a book (dict by customer_id)."""
        return self.books[book_id]["contacts"]

    def find(self, book_id, key, value):
        """The contact whose system_id1 is `value` (key "system_id1") or that has e-mail `value`."""
        book = self.books[book_id]
        if key == "system_id1":
            found = book["by_sid"].get(str(value))
        else:
            found = book["by_email"].get(str(value).lower())
        return book["contacts"].get(found) if found is not None else None

    def create(self, book_id, data):
        """A new contact from a request body; Invalid for a 400."""
        fields = self._clean(data)
        if not fields.get("last_name"):
            raise Invalid("last_name is required")
        self._check_unique(book_id, fields, None)
        contact = {"customer_id": next(self._ids), **{k: "" for k in TEXT_FIELDS[:4]},
                   **{k: [] for k in LIST_FIELDS}, "system_id1": None}
        contact.update(fields)
        contact["last_updated_at"] = _iso(self.clock())
        self.contacts(book_id)[contact["customer_id"]] = contact
        self._index(book_id, contact, True)
        return contact

    def update(self, book_id, contact, data):
        """Change the fields a request body names (lists are replaced); Invalid for a 400."""
        fields = self._clean(data)
        if "last_name" in fields and not fields["last_name"]:
            raise Invalid("last_name can't be blank")
        self._check_unique(book_id, fields, contact["customer_id"])
        self._index(book_id, contact, False)
        contact.update(fields)
        contact["last_updated_at"] = _iso(self.clock())
        self._index(book_id, contact, True)
        return contact

    def delete(self, book_id, contact):
        """Remove a contact."""
        self._index(book_id, contact, False)
        self.contacts(book_id).pop(contact["customer_id"], None)

    def _index(self, book_id, contact, add):
        book, cid = self.books[book_id], contact["customer_id"]
        keys = [("by_sid", contact["system_id1"])] if contact.get("system_id1") else []
        keys += [("by_email", address) for address in _addresses(contact)]
        for index, value in keys:
            if add:
                book[index][value] = cid
            elif book[index].get(value) == cid:
                del book[index][value]

    def _clean(self, data):
        if not isinstance(data, dict):
            raise Invalid("the body must be a JSON object")
        unknown = sorted(set(data) - KNOWN_FIELDS)
        if unknown:
            raise Invalid(f"unknown parameter: {', '.join(unknown)}")
        fields = {}
        for name in TEXT_FIELDS:
            if name in data:
                value = data[name]
                if value is not None and not isinstance(value, str):
                    raise Invalid(f"{name} must be a string")
                if value and len(value) > MAX_TEXT:
                    raise Invalid(f"{name} is too long (maximum is {MAX_TEXT} characters)")
                fields[name] = value if name != "system_id1" else (value or None)
        for name, (item_key, most) in LIST_FIELDS.items():
            if name in data:
                fields[name] = _items(name, data[name], item_key, most)
        seen = [e["email"].lower() for n in ("emails", "archived_emails") for e in fields.get(n, [])]
        if len(seen) != len(set(seen)):
            raise Invalid("emails contain the same address twice")
        return fields

    def _check_unique(self, book_id, fields, own_id):
        book = self.books[book_id]
        mine = sorted({e["email"].lower() for n in ("emails", "archived_emails") for e in fields.get(n, [])})
        for address in mine:
            if book["by_email"].get(address, own_id) != own_id:
                raise Invalid(f"email {address} has already been taken")
        sid = fields.get("system_id1")
        if sid and book["by_sid"].get(sid, own_id) != own_id:
            raise Invalid("system_id1 has already been taken")


def _items(name, value, item_key, most):
    if not isinstance(value, list):
        raise Invalid(f"{name} must be an array")
    if len(value) > most:
        raise Invalid(f"{name} can have at most {most} items")
    items = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {item_key} or not isinstance(item[item_key], str):
            raise Invalid(f"{name} must be an array of {{\"{item_key}\": …}}")
        text = item[item_key].strip()
        if not (_EMAIL if item_key == "email" else _TEL).match(text):
            raise Invalid(f"{name}: {text!r} is not a valid {item_key}")
        items.append({item_key: text})
    return items


def _addresses(contact):
    return {e["email"].lower() for n in ("emails", "archived_emails") for e in contact.get(n) or []}


def _iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
