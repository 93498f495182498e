"""The mall adapter: everything the mall-neutral code (accounts, poller, mail composer, reply
path, reminders) needs from one mall, behind one small interface registered by name.

An adapter holds no state; one instance per mall lives in the registry (sync.malls). It works on
MallAccount rows and SyncCursor rows through their attributes only, so the mall packages never
import the models, and neither the poller nor the reply path ever asks which mall it is.
"""
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from sync.messages import MallFile, MallMessage, MarkersOf, Snapshot

# Both connection tests say this when the mall refused our address before it looked at rights.
IP_UNCHECKED = "接続元が拒否されたため、一覧の取得権限は確認できませんでした（送信元IPの行を参照）。"


@dataclass(frozen=True)
class Check:
    """One line of the connection test: what was checked, whether it works, and why not."""

    label: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Credential:
    """The mall credential that expires (reminders, dashboard): its name and how to renew it."""

    what: str  # short English name for logs and `accounts list`, e.g. "license key"
    kind: str  # stored in ReminderSent.kind, e.g. "license_key"
    label: str  # Japanese, e.g. 楽天のライセンスキー（licenseKey）
    field: str  # the `accounts renew` / form field that takes the new value


class Client(Protocol):
    """What every mall client offers the neutral code (the rest is the adapter's business)."""

    http: Any

    def close(self) -> None:
        """Release the HTTP session."""


class Scan(Protocol):
    """One poll pass over one account, set up by MallAdapter.scan; the poller drives it."""

    def prepare(self) -> None:
        """Learn what the account needs before a pass (e.g. the key's expiry); may raise MallAuthError."""

    def count(self) -> int:
        """How many inquiries the pass will look at (the first backfill's N)."""

    def snapshots(self, markers_of: MarkersOf) -> Iterable[Snapshot]:
        """New or changed inquiries (unchanged ones marked so), as the mall lists them."""

    def advance(self, cursor: Any) -> None:
        """Move the account's cursor after a complete pass."""


@dataclass(frozen=True)
class ShopMessages:
    """The shop's messages of one inquiry, fresh from the mall, and whether it is private (None: n/a)."""

    messages: Sequence[Any]  # each with .id, .text, .posted_at
    private: bool | None = None


class MallAdapter:
    """Base class of the adapters; every method below is implemented by each mall."""

    name: str  # stored in MallAccount.mall, e.g. "rakuten"
    label: str  # Japanese, e.g. 楽天
    address_code: str  # the mall's letter in signed reply addresses (sync.identity), e.g. "r"
    customer_name: str  # display name when the mall gives none, e.g. 楽天のお客様
    external_id_field: str  # the MallAccount column with the mall's store ID
    external_id_label: str  # Japanese name of that ID, e.g. 店舗ID
    form_fields: tuple[str, ...]  # the admin form's fields for this mall
    credential: Credential
    complete_reasons: Mapping[int, str] | None = None  # reasons an agent must choose when completing
    posts_return_id = True  # False: learn a posted reply's id from a fresh detail (sync.replies.post)
    bills_conversations = False  # True: the status page estimates a per-conversation fee

    # --- accounts ------------------------------------------------------------------------------

    def clean_fields(self, values: Mapping[str, Any], errors: dict[str, str], creating: bool) -> dict[str, Any]:
        """Validated account fields from form/CLI input (blank secrets: None); messages into `errors`."""
        raise NotImplementedError

    def check_renewal(self, value: str | None) -> str | None:
        """The Japanese problem with a new credential value for `accounts renew`, or None."""
        raise NotImplementedError

    def client(self, account: Any, config: Mapping[str, Any], rate: float | None) -> Client:
        """A client for the account with the configured base URLs and pacing."""
        raise NotImplementedError

    def keep_client_state(self, account: Any, client: Client) -> None:
        """Store on the account what the client learnt (e.g. a new access token)."""

    def standing_problem(self, client: Client) -> Exception | None:
        """A problem the mall reports while still answering (shown on the status page), or None."""
        return None

    def connection_test(self, account: Any, client: Client, now: dt.datetime) -> list[Check]:
        """Auth, list permission and source IP, in Japanese (連携テスト)."""
        raise NotImplementedError

    def expires_at(self, account: Any) -> dt.datetime | None:
        """When the account's credential expires (naive UTC), if known."""
        raise NotImplementedError

    def renew_how(self, account: Any) -> str:
        """Japanese instructions for renewing the credential (reminder mails)."""
        raise NotImplementedError

    # --- polling and mail ----------------------------------------------------------------------

    def scan(self, account: Any, client: Client, cursor: Any, now: dt.datetime,
             floor: dt.datetime | None) -> Scan:
        """Set up one pass (no calls yet); `floor` is set on the first backfill only."""
        raise NotImplementedError

    def fetch_file(self, client: Client, file: MallFile, cap: int) -> MallFile:
        """The file with its bytes, or with a note saying why it is not attached."""
        raise NotImplementedError

    def links(self, account: Any, msg: MallMessage) -> dict[str, str]:
        """Back-office links (inquiry, order) and the item's store page, where the mall has them."""
        raise NotImplementedError

    # --- the reply path ------------------------------------------------------------------------

    def check_reply(self, text: str, files: Sequence[Any] = ()) -> Any:
        """Everything the mall would check before posting (a sync.replies.rules.Result)."""
        raise NotImplementedError

    def shop_messages(self, client: Client, inquiry_id: str) -> ShopMessages:
        """The shop's messages of an inquiry, from a fresh detail."""
        raise NotImplementedError

    def post_reply(self, client: Client, inquiry_id: str, text: str, files: Sequence[Any]) -> str | None:
        """Post the shop's reply with its attachments; the new message's id when the mall says it."""
        raise NotImplementedError

    def complete(self, client: Client, inquiry_id: str, reason: int | None) -> None:
        """Mark the inquiry completed on the mall."""
        raise NotImplementedError

    def mark_read(self, client: Client, inquiry_id: str) -> None:
        """Mark the inquiry read on the mall ("already read" is fine)."""
        raise NotImplementedError


def quoted(value: object) -> str:
    """A value from the mall made safe for a link's path or query: a stray space, "/" or "?" must
    not change which page opens."""
    return quote(str(value).strip(), safe="")


# --- field helpers the adapters' clean_fields share -----------------------------------------------

def text_field(values: Mapping[str, Any], key: str, errors: dict[str, str], label: str, pattern: str | None = None,
               required: bool = True, limit: int = 255) -> str | None:
    """A stripped text field (None when blank); a Japanese message in `errors` when it is wrong."""
    value = (values.get(key) or "").strip()
    if not value:
        if required:
            errors[key] = f"{label}を入力してください。"
        return None
    if len(value) > limit or (pattern is not None and not re.fullmatch(pattern, value)):
        errors[key] = f"{label}の形式が正しくありません。"
    return value


def secret_field(values: Mapping[str, Any], key: str, errors: dict[str, str], pattern: str, bad: str,
                 missing: str, creating: bool) -> str | None:
    """A write-only secret: blank keeps the stored value (None), except when creating the account."""
    value = (values.get(key) or "").strip()
    if value and not re.fullmatch(pattern, value):
        errors[key] = bad
    elif not value and creating:
        errors[key] = missing
    return value or None
