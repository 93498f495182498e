"""The one field mapping between a mallbridge customer and a contact of the helpdesk's address book.

Source: the helpdesk's developer pages, "コンタクト (customer)": 登録 `POST
customer_groups/<id>/customers/create`, 更新 `PUT …/customers/system_id1/<system_id1>` and
`PUT …/customers/email/<email>` (the latter may also set system_id1), 取得 `GET` on the same two
paths. Request fields used here: `last_name`, `first_name`, `last_name_kana`, `first_name_kana`,
`emails` ([{"email"}]), `tels` ([{"tel"}]), `archived_emails` ([{"email"}], at most 6, added
2023-04), `archived_tels` ([{"tel"}], at most 3) and `system_id1` (顧客コード, one contact per
code). An empty list clears the field, so every update sends all four lists. docs/helpdesk.md
has the table; nothing else in mallbridge names these fields.

Text is sent as it is (UTF-8 JSON): names with characters outside JIS X 0208 (髙, 𠮷, ①) are not
replaced or dropped.
"""
import hashlib
import json
import re
from dataclasses import dataclass

MAX_ARCHIVED_EMAILS = 6
MAX_ARCHIVED_TELS = 3
# system_id1 of a mall customer without a member: mall, mall account ID, customer key (sync.identity).
MALL_ID = re.compile(r"^[a-z]+-\d+-[0-9a-f]{12}$")
_SPACES = re.compile(r"[\s\u3000]+")


@dataclass(frozen=True)
class Contact:
    """What mallbridge knows about one customer, before it becomes the API's JSON."""

    subject: str  # m:<member id> | c:<account id>:<customer key>
    system_id1: str
    name: str
    kana: str = ""
    email: str | None = None
    tel: str | None = None
    archived_emails: tuple[str, ...] = ()
    archived_tels: tuple[str, ...] = ()
    label: str = ""  # how reports name it, e.g. 会員 100001 山田 太郎

    def without(self, address: str) -> "Contact":
        """The same contact without one e-mail address (it belongs to another contact of the book)."""
        address = address.lower()
        archived = tuple(a for a in self.archived_emails if a.lower() != address)
        if self.email and self.email.lower() == address:
            return _replace(self, email=archived[0] if archived else None, archived_emails=archived[1:])
        return _replace(self, archived_emails=archived)

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every e-mail address of the contact, the main one first."""
        return ((self.email,) if self.email else ()) + self.archived_emails


def _replace(contact, **changes):
    values = {**contact.__dict__, **changes}
    return Contact(**values)


def split_name(name: str | None) -> tuple[str, str]:
    """'山田 太郎' → ('山田', '太郎'); a name without a space is all last name."""
    parts = _SPACES.split((name or "").strip(), maxsplit=1)
    return (parts[0], parts[1] if len(parts) > 1 else "")


def body(contact: Contact, *, with_system_id: bool = True) -> dict:
    """The JSON body of a create or update (PUT by system_id1 leaves the key out)."""
    last, first = split_name(contact.name)
    last_kana, first_kana = split_name(contact.kana)
    data = {
        "last_name": last,
        "first_name": first,
        "last_name_kana": last_kana,
        "first_name_kana": first_kana,
        "emails": [{"email": contact.email}] if contact.email else [],
        "archived_emails": [{"email": e} for e in contact.archived_emails[:MAX_ARCHIVED_EMAILS]],
        "tels": [{"tel": contact.tel}] if contact.tel else [],
        "archived_tels": [{"tel": t} for t in contact.archived_tels[:MAX_ARCHIVED_TELS]],
    }
    if with_system_id:
        data["system_id1"] = contact.system_id1
    return data


def content_hash(contact: Contact) -> str:
    """A hash of what would be sent: an unchanged customer is not sent again."""
    text = json.dumps(body(contact), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def system_id_of(response: dict) -> str | None:
    """The system_id1 of a contact as the API returns it (None when it has none)."""
    value = (response or {}).get("system_id1")
    return str(value) if value not in (None, "") else None


def customer_id_of(response: dict) -> int | None:
    """The helpdesk's own ID of a contact in an API answer."""
    value = (response or {}).get("customer_id")
    return int(value) if isinstance(value, int) or (isinstance(value, str) and value.isdigit()) else None


def is_mall_contact(system_id1: str | None) -> bool:
    """Whether a system_id1 names one of mallbridge's mall customers without a member."""
    return bool(system_id1 and MALL_ID.match(system_id1))
