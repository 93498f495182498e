"""Rakuten RMS InquiryManagementAPI (R-Messe) client, plus the license-key expiry endpoint.

Base URL is MALLBRIDGE_RAKUTEN_API_BASE (".../es/1.0"); the inquiry API lives under
"/inquirymng-api", the expiry check under "/license-management". Dates go out as JST-naive
strings; naive datetimes passed in are UTC (the project's storage convention).
"""
import base64
import datetime as dt
import re
from collections.abc import Iterator, Sequence

from sync.malls.errors import InvalidRequest, MalformedResponse, PermanentMallError
from sync.malls.fields import JST, Fields, jst_naive, parse_mall_time
from sync.malls.http import DEFAULT_RATE, DEFAULT_TIMEOUT, ClientBase, Download, MallHttp, raise_for_status
from sync.malls.rakuten.errors import extract_error
from sync.malls.rakuten.model import (
    MALL,
    Attachment,
    BatchResult,
    Inquiry,
    InquiryPage,
    Message,
    parse_attachments,
    parse_batch,
    parse_inquiry,
    parse_page,
)

DEFAULT_BASE = "https://api.rms.rakuten.co.jp/es/1.0"
JSON_TYPE = "application/json; charset=utf-8"
# Some RMS APIs answer 415 unless the parameter has no space (docs/mall-apis.md §1.8): built for both.
JSON_TYPE_UNSPACED = "application/json;charset=utf-8"
MAX_WINDOW = dt.timedelta(days=30)  # the API allows 31 days; one day of slack for clock skew
MAX_ROWS = 10000  # limit*(page-1)+limit must stay ≤ 10000
MAX_BATCH = 20
MAX_MESSAGE, MAX_LINE = 2000, 300
MAX_UPLOAD = 5 * 1024 * 1024
FILE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
              "pdf": "application/pdf"}
URL_DOMAINS = ("rakuten.co.jp", "rakuten.ne.jp", "rakuten.com", "rakuten-bank.co.jp", "trafficgate.net",
               "rakuten-card.co.jp", "payment.sej.co.jp", "faq.rakuten.net", "support.rakuten-card.jp")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>\"']+")


def esa_header(service_secret, license_key):
    """The `Authorization: ESA base64(serviceSecret:licenseKey)` value, without stray newlines."""
    raw = f"{service_secret.strip()}:{license_key.strip()}".encode()
    return "ESA " + base64.b64encode(raw).decode("ascii")


def windows(start, end, span=MAX_WINDOW):
    """[start, end] cut into consecutive (from, to) windows, to at most `span` after from, oldest first.

    A window reaches `span` past its start (both ends included): a 60-day pass is then two
    windows, not two and a one-second window that costs a call and is always empty."""
    start, end = start.replace(microsecond=0), end.replace(microsecond=0)
    while start <= end:
        stop = min(start + span, end)
        yield start, stop
        start = stop + dt.timedelta(seconds=1)


def check_reply_text(message):
    """The reply text as Rakuten accepts it (LF newlines), or InvalidRequest saying why not."""
    text = message.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InvalidRequest("empty reply", mall=MALL, code="message", reason="返信本文が空です。")
    if len(text) > MAX_MESSAGE:
        raise InvalidRequest("reply too long", mall=MALL, code="message",
                             reason=f"返信本文は{MAX_MESSAGE}文字までです(現在{len(text)}文字)。")
    for n, line in enumerate(text.split("\n"), 1):
        if len(line) > MAX_LINE:
            raise InvalidRequest("line too long", mall=MALL, code="message",
                                 reason=f"{n}行目が{len(line)}文字です。楽天の返信は1行{MAX_LINE}文字までです。")
    for url in _URL.findall(text):
        if not url_allowed(url):
            raise InvalidRequest("URL not allowed", mall=MALL, code="message",
                                 reason=f"楽天の返信に使えないURLです: {url}(https://の楽天関連ドメインのみ可)")
    return text


def url_allowed(url):
    """Rakuten replies may link only to https URLs on its own family of domains."""
    m = re.match(r"https://([^/:?#]+)", url, re.IGNORECASE)
    host = m.group(1).lower() if m else ""
    return any(host == d or host.endswith("." + d) for d in URL_DOMAINS)


def check_file(label, size=None):
    """Label (file name) and size as the attachment API accepts them, else InvalidRequest."""
    ext = label.rsplit(".", 1)[-1].lower() if "." in label else ""
    if not label or len(label) > 100 or "[" in label or "]" in label or ext not in FILE_TYPES:
        raise InvalidRequest("bad attachment name", mall=MALL, code="file", reason=(
            "添付ファイル名は100文字以内、拡張子png/jpeg/jpg/gif/pdf、[ ]を含まない名前にしてください。"))
    if size is not None and (size == 0 or size > MAX_UPLOAD):
        raise InvalidRequest("bad attachment size", mall=MALL, code="file",
                             reason="添付ファイルは空でなく5MB以下にしてください。")
    return ext


class RakutenClient(ClientBase):
    """One Rakuten shop's credentials and a paced HTTP session."""

    def __init__(self, service_secret, license_key, shop_id=None, *, base_url=DEFAULT_BASE, rate=DEFAULT_RATE,
                 timeout=DEFAULT_TIMEOUT, http=None, session=None):
        self.service_secret, self.license_key = service_secret, license_key
        self.shop_id = str(shop_id) if shop_id is not None else None
        self.base = base_url.rstrip("/")
        self.http = http or MallHttp(MALL, session=session, rate=rate, timeout=timeout)
        self.json_type = JSON_TYPE

    def _call(self, method, path, *, ok=(200,), json=None, files=None, params=None, max_bytes=None, root=None):
        headers = {"Authorization": esa_header(self.service_secret, self.license_key)}
        if files is None:
            headers["Content-Type"] = self.json_type
        url = (root or self.base + "/inquirymng-api") + path
        reply = self.http.request(method, url, params=params, json=json, files=files, headers=headers,
                                  max_bytes=max_bytes)
        if reply.status == 415 and files is None and self.json_type == JSON_TYPE:
            # Refused for the spelling of the media type, not for the request: the same call once
            # more with the other spelling, which this client then keeps using.
            self.json_type = headers["Content-Type"] = JSON_TYPE_UNSPACED
            reply = self.http.request(method, url, params=params, json=json, files=files, headers=headers,
                                      max_bytes=max_bytes)
        return raise_for_status(reply, extract_error, ok=ok)

    @staticmethod
    def _result(reply):
        data = reply.json()
        if not isinstance(data, dict) or not isinstance(data.get("result"), dict):
            raise MalformedResponse("expected {\"result\": {...}}", mall=MALL, status=reply.status)
        return data["result"]

    @staticmethod
    def _range(from_date, to_date, no_merchant_reply):
        params = {"fromDate": jst_naive(from_date), "toDate": jst_naive(to_date)}
        if no_merchant_reply is not None:
            params["noMerchantReply"] = "true" if no_merchant_reply else "false"
        return params

    def count(self, from_date: dt.datetime, to_date: dt.datetime, *, no_merchant_reply: bool | None = None) -> int:
        """Number of inquiries created (regDate) in the window (≤ 31 days)."""
        result = self._result(self._call("GET", "/inquiries/count",
                                         params=self._range(from_date, to_date, no_merchant_reply)))
        return Fields(result, MALL, "count").integer("count", required=True)

    def list(self, from_date: dt.datetime, to_date: dt.datetime, *, page: int = 1, limit: int = 100,
             no_merchant_reply: bool | None = None) -> InquiryPage:
        """One page of inquiries created in the window, newest regDate first."""
        if not 1 <= limit <= 100 or not 1 <= page <= 10000 or limit * page > MAX_ROWS:
            raise InvalidRequest("bad paging", mall=MALL, code="paging",
                                 reason="limitは1〜100、pageは1〜10000、limit×pageは10000以下にしてください。")
        params = self._range(from_date, to_date, no_merchant_reply) | {"limit": limit, "page": page}
        return parse_page(self._call("GET", "/inquiries", params=params).json())

    def iter_inquiries(self, from_date: dt.datetime, to_date: dt.datetime, *, limit: int = 100,
                       no_merchant_reply: bool | None = None) -> Iterator[Inquiry]:
        """Every inquiry created between the two times: ≤30-day windows, each paged to the end.

        A window holding more than 10,000 inquiries (the API's cap) is split in halves.
        """
        for start, stop in windows(from_date, to_date):
            yield from self._iter_window(start, stop, limit, no_merchant_reply)

    def _iter_window(self, start, stop, limit, no_merchant_reply):
        try:
            first = self.list(start, stop, page=1, limit=limit, no_merchant_reply=no_merchant_reply)
            too_many = first.total_count > MAX_ROWS
        except PermanentMallError as exc:
            # The real API refuses a window over 10,000 rows outright (400 IE000), before any page.
            if exc.code != "IE000" or stop - start <= dt.timedelta(seconds=1):
                raise
            first, too_many = None, True
        if too_many and stop - start > dt.timedelta(seconds=1):
            middle = start + (stop - start) / 2
            yield from self._iter_window(start, middle.replace(microsecond=0), limit, no_merchant_reply)
            yield from self._iter_window(middle.replace(microsecond=0) + dt.timedelta(seconds=1), stop, limit,
                                         no_merchant_reply)
            return
        yield from first.inquiries
        page, pages = 1, first.total_pages
        while page < pages and first.inquiries and limit * (page + 1) <= MAX_ROWS:
            page += 1
            current = self.list(start, stop, page=page, limit=limit, no_merchant_reply=no_merchant_reply)
            if not current.inquiries:
                break
            yield from current.inquiries

    def detail(self, inquiry_number: str) -> Inquiry:
        """One inquiry with all its replies (NotFound when it does not exist)."""
        if not re.fullmatch(r"[0-9A-Za-z-]{1,40}", str(inquiry_number)):
            raise InvalidRequest("bad inquiry number", mall=MALL, code="inquiryNumber",
                                 reason=f"問い合わせ番号が不正です: {inquiry_number!r}")
        return parse_inquiry(self._result(self._call("GET", f"/inquiry/{inquiry_number}")))

    def reply(self, inquiry_number: str, message: str, attachment: Attachment | None = None) -> Message:
        """Post the shop's reply; returns the posted Message (id None: re-fetch to learn it)."""
        text = check_reply_text(message)
        body = {"inquiryNumber": str(inquiry_number), "shopId": self.shop_id or str(inquiry_number).split("-")[0],
                "message": text}
        if attachment is not None:
            check_file(attachment.label)
            if not attachment.path or len(attachment.path) > 1000:
                raise InvalidRequest("bad attachment path", mall=MALL, code="attachments",
                                     reason="添付ファイルのパスが不正です。")
            body["attachments"] = [{"label": attachment.label, "path": attachment.path}]
        result = Fields(self._result(self._call("POST", "/inquiry/reply", ok=(200, 201), json=body)), MALL, "reply")
        return Message(None, "merchant", result.text("message", default=text), result.datetime("regDate"),
                       result.boolean("isRead", default=False),
                       parse_attachments(result.items("attachments"), "reply.attachments"))

    def upload(self, filename: str, content: bytes, content_type: str | None = None) -> Attachment:
        """Upload one file for a later reply; returns its Attachment(label, path)."""
        ext = check_file(filename, len(content))
        files = {"file": (filename, content, content_type or FILE_TYPES[ext])}
        result = Fields(self._result(self._call("POST", "/attachment", ok=(200, 201), files=files)), MALL, "attachment")
        path = result.text("path")
        if not path:
            refusal = result.line("errorMessage", default="")
            if refusal:
                # attachment.post can answer 201 with only an errorMessage: the file was refused
                # (e.g. "attachment file is empty."), and sending it again will not change that.
                raise PermanentMallError(f"upload refused: {refusal}", mall=MALL, status=201, code="attachment",
                                         reason=refusal)
            raise MalformedResponse("upload returned no path", mall=MALL)
        return Attachment(result.line("label", default=filename), path)

    def download(self, attachment: Attachment, *, max_bytes: int = 10 * 1024 * 1024) -> Download:
        """The bytes of an attachment (ResponseTooLarge over max_bytes)."""
        reply = self._call("GET", "/attachment", params={"path": attachment.path, "label": attachment.label},
                           max_bytes=max_bytes)
        ctype = reply.header("Content-Type", "application/octet-stream").split(";")[0].strip()
        return Download(reply.content, ctype, attachment.label)

    def _batch(self, path, numbers):
        numbers = [str(n) for n in numbers]
        result = BatchResult()
        for i in range(0, len(numbers), MAX_BATCH):  # the API takes at most 20 per call
            part = parse_batch(self._call("PATCH", path, json={"inquiryNumbers": numbers[i:i + MAX_BATCH]}).json())
            result.ok += part.ok
            result.errors += part.errors
        return result

    def mark_read(self, numbers: Sequence[str]) -> BatchResult:
        """Mark inquiries read; per-item ok/errors."""
        return self._batch("/inquiries/read", numbers)

    def complete(self, numbers: Sequence[str]) -> BatchResult:
        """Mark inquiries completed; per-item ok/errors."""
        return self._batch("/inquiries/complete", numbers)

    def incomplete(self, numbers: Sequence[str]) -> BatchResult:
        """Re-open completed inquiries; per-item ok/errors."""
        return self._batch("/inquiries/incomplete", numbers)

    def license_expiry(self) -> dt.datetime:
        """When the license key expires, as an aware JST datetime (the API sends it offset-less)."""
        reply = self._call("GET", "/license-key/expiry-date", params={"licenseKey": self.license_key.strip()},
                           root=self.base + "/license-management")
        data = reply.json()
        value = data.get("expiryDate") if isinstance(data, dict) else None
        if not value and isinstance(data, dict) and isinstance(data.get("result"), dict):
            value = data["result"].get("expiryDate")
        try:
            return parse_mall_time(value).astimezone(JST)
        except (TypeError, ValueError):
            raise MalformedResponse(f"expiryDate {value!r:.60} is not a date", mall=MALL) from None
