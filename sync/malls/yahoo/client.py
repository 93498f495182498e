"""Yahoo! Shopping store Q&A client (externalTalk*): token refresh + public-key signature.

Every API call carries `Authorization: Bearer <access token>` and the public-key header
`X-sws-signature` = Base64(RSA-PKCS#1 v1.5-encrypt("<sellerId>:<unix seconds>")) with
`X-sws-signature-version`. The access token (1 h) is refreshed with the refresh token (4 weeks).
"""
import base64
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from sync.malls.errors import InvalidRequest, MalformedResponse, MallAuthError, PermanentMallError
from sync.malls.fields import Fields, unix_seconds
from sync.malls.http import DEFAULT_RATE, DEFAULT_TIMEOUT, ClientBase, Download, MallHttp, raise_for_status
from sync.malls.yahoo.errors import OK_STATUSES, TOKEN_CODES, extract_error, json_body
from sync.malls.yahoo.model import (
    MALL,
    Headline,
    PostResult,
    Topic,
    TopicPage,
    YahooFile,
    find_key,
    parse_page,
    parse_post,
    parse_topic,
)

log = logging.getLogger(f"mallbridge.{__name__}")
DEFAULT_API_BASE = "https://circus.shopping.yahooapis.jp/ShoppingWebService/V1"
DEFAULT_AUTH_BASE = "https://auth.login.yahoo.co.jp/yconnect/v2"
PAGE_SIZE = 20
MAX_BODY = 2000
REFRESH_MARGIN = 60  # refresh this many seconds before the access token runs out
FILE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
              "pdf": "application/pdf"}
COMPLETE_REASONS = {1: "通常完了", 2: "電話完了", 3: "メール対応", 4: "同一質問", 5: "回答不要"}
_TOPIC_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass
class Token:
    """An access token and when it expires (UNIX seconds)."""

    access_token: str
    expires_at: float
    refresh_token: str = None


def load_public_key(pem):
    """An RSA public key from PEM text/bytes (a certificate or a private key PEM also works)."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return serialization.load_pem_public_key(data)
    except ValueError:
        pass
    try:
        return x509.load_pem_x509_certificate(data).public_key()
    except ValueError:
        pass
    try:
        return serialization.load_pem_private_key(data, password=None).public_key()
    except (ValueError, TypeError):
        raise ValueError("not an RSA public key in PEM format") from None


class YahooClient(ClientBase):
    """One Yahoo! store's credentials, its access token and a paced HTTP session."""

    def __init__(self, seller_id, client_id, client_secret, refresh_token, public_key_pem, key_version, *,
                 api_base=DEFAULT_API_BASE, auth_base=DEFAULT_AUTH_BASE, token=None, rate=DEFAULT_RATE,
                 timeout=DEFAULT_TIMEOUT, http=None, session=None, clock=time.time):
        self.seller_id, self.client_id, self.client_secret = seller_id, client_id, client_secret
        self.refresh_token = refresh_token
        self.public_key = load_public_key(public_key_pem)
        self.key_version = str(key_version)
        self.api_base, self.auth_base = api_base.rstrip("/"), auth_base.rstrip("/")
        self.token = token
        self.clock = clock
        self.http = http or MallHttp(MALL, session=session, rate=rate, timeout=timeout)
        self.authorize_status = None  # X-SWS-Authorize-Status of the last call ("authorized" when accepted)
        self.authorize_problem = None  # MallAuthError while Yahoo! reports the signature as not accepted

    def signature(self, now=None):
        """The X-sws-signature value for this moment."""
        plain = f"{self.seller_id}:{int(self.clock() if now is None else now)}".encode()
        return base64.b64encode(self.public_key.encrypt(plain, padding.PKCS1v15())).decode("ascii")

    def refresh_access_token(self) -> Token:
        """Trade the refresh token for a new access token (MallAuthError when it has expired)."""
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode("ascii")
        reply = self.http.request("POST", self.auth_base + "/token",
                                  data={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
                                  headers={"Authorization": "Basic " + basic})
        if reply.status == 400 or (reply.status == 401 and reply.header("WWW-Authenticate") is None):
            code, reason, _ = extract_error(reply)
            raise MallAuthError(f"token refresh refused: {code} {reason}", mall=MALL, status=reply.status,
                                code=code or "invalid_grant", reason=reason)
        raise_for_status(reply, extract_error)
        data = Fields(reply.json(), MALL, "token")
        self.token = Token(data.text("access_token", required=True),
                           self.clock() + data.integer("expires_in", default=3600),
                           data.text("refresh_token"))
        if self.token.refresh_token:
            self.refresh_token = self.token.refresh_token
        return self.token

    def _access_token(self):
        if self.token is None or self.token.expires_at - REFRESH_MARGIN <= self.clock():
            self.refresh_access_token()
        return self.token.access_token

    def _call(self, method, path, *, params=None, json=None, files=None, max_bytes=None, raw=False,
              empty_ok=False):
        for attempt in (1, 2):
            headers = {"Authorization": "Bearer " + self._access_token(), "X-sws-signature": self.signature(),
                       "X-sws-signature-version": self.key_version}
            if json is not None:
                headers["Content-Type"] = "application/json; charset=utf-8"
            reply = self.http.request(method, f"{self.api_base}/{path}", params=params, json=json, files=files,
                                      headers=headers, max_bytes=max_bytes)
            self._note_authorize_status(reply)
            if attempt == 1 and reply.status == 401 and extract_error(reply)[0] in TOKEN_CODES:
                # The token died early (re-issued elsewhere, or older than this API's session cap):
                # refresh once and repeat; a second refusal is reported as it comes.
                self.token = None
                continue
            raise_for_status(reply, extract_error, ok=OK_STATUSES)
            return reply if raw else json_body(reply, empty_ok)

    def _note_authorize_status(self, reply):
        """Keep X-SWS-Authorize-Status; warn (once per change) when Yahoo! did not accept the signature.

        Yahoo! may still answer 200, so this is no error; `authorize_problem` explains it for staff."""
        status = reply.header("X-SWS-Authorize-Status")
        status = status.strip() if status else status
        if status and status.lower() != "authorized":
            if status != self.authorize_status:
                log.warning("yahoo seller %s: public-key signature not accepted (X-SWS-Authorize-Status: %s)",
                            self.seller_id, status)
            self.authorize_problem = MallAuthError(
                f"public-key signature not accepted: {status}", mall=MALL, status=reply.status,
                code="sws_unauthorized", reason=f"X-SWS-Authorize-Status: {status}")
        elif status:
            self.authorize_problem = None
        self.authorize_status = status

    def _check_topic(self, topic_id):
        if not _TOPIC_ID.match(str(topic_id or "")):
            raise InvalidRequest("bad topic id", mall=MALL, code="topicId", reason=f"質問IDが不正です: {topic_id!r}")
        return str(topic_id)

    @staticmethod
    def _ok(data, what):
        status = data.get("status") if isinstance(data, dict) else None
        if status is not None and status is not True and str(status).strip().lower() != "ok":
            raise PermanentMallError(f"{what}: status {status}", mall=MALL, code="ng", reason=f"{what} → {status}")

    def list(self, start: int = 1, result: int = PAGE_SIZE, *, request_filter=None, date_type=None, start_date=None,
             end_date=None, qa_type=None, is_private=None, category=None, sort=None, sort_order=None) -> TopicPage:
        """One page (≤ 20) of topics; by default newest customer post (userPostTime) first."""
        if not 1 <= result <= PAGE_SIZE or start < 1:
            raise InvalidRequest("bad paging", mall=MALL, code="paging", reason="resultは1〜20、startは1以上です。")
        params = {"sellerId": self.seller_id, "start": start, "result": result}
        if request_filter:
            params["requestFilter"] = request_filter if isinstance(request_filter, str) else ",".join(request_filter)
        if date_type:
            if start_date is None or end_date is None:
                raise InvalidRequest("dates required", mall=MALL, code="dateType",
                                     reason="dateTypeを指定するときはstartDateとendDateが必要です。")
            params |= {"dateType": date_type, "startDate": str(_unix(start_date)), "endDate": str(_unix(end_date))}
        optional = {"qaType": qa_type, "category": category, "sort": sort, "sortOrder": sort_order,
                    "isPrivate": None if is_private is None else ("true" if is_private else "false")}
        params |= {k: v for k, v in optional.items() if v is not None}
        return parse_page(self._call("GET", "externalTalkList", params=params))

    def iter_topics(self, **filters) -> Iterator[Headline]:
        """Every headline page after page (20 at a time) in the list's order, until the end."""
        start, previous = 1, None
        while True:
            page = self.list(start, PAGE_SIZE, **filters)
            first = page.headlines[0].topic_id if page.headlines else None
            if first is None or first == previous:  # the end, or a mall ignoring `start`
                return
            yield from page.headlines
            start, previous = start + len(page.headlines), first
            # Without a summary count, a short page is the last one.
            done = start > page.count if page.count_known else len(page.headlines) < PAGE_SIZE
            if done:
                return

    def detail(self, topic_id: str) -> Topic:
        """One topic with all its messages."""
        topic_id = self._check_topic(topic_id)
        return parse_topic(self._call("GET", "externalTalkDetail",
                                      params={"sellerId": self.seller_id, "topicId": topic_id}), topic_id)

    def post(self, topic_id: str, body: str, files: Sequence[YahooFile] = ()) -> PostResult:
        """Post the store's message (≤ 2000 chars, LF newlines), optionally with uploaded files."""
        topic_id = self._check_topic(topic_id)
        text = body.replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip() or len(text) > MAX_BODY:
            raise InvalidRequest("bad body", mall=MALL, code="body",
                                 reason=f"本文は1〜{MAX_BODY}文字です(現在{len(text)}文字)。")
        payload = {"sellerId": self.seller_id, "body": text}
        if files:
            payload["fileList"] = [{"fileName": f.file_name, "filePath": f.object_key,
                                    "fileExt": f.file_ext or f.file_name.rsplit(".", 1)[-1].lower()} for f in files]
        return parse_post(self._call("POST", "externalTalkAdd", params={"topicId": topic_id}, json=payload), topic_id)

    def mark_read(self, topic_id: str) -> None:
        """Mark the topic read by the store."""
        topic_id = self._check_topic(topic_id)
        self._ok(self._call("PUT", "externalTalkRead", params={"topicId": topic_id},
                            json={"sellerId": self.seller_id}, empty_ok=True), "read")

    def complete(self, topic_id: str, reason: int | None = None) -> None:
        """Complete the topic; reason 1 通常完了 (needs an API reply first), 2 電話, 3 メール, 4 同一質問, 5 回答不要."""
        topic_id = self._check_topic(topic_id)
        payload = {"sellerId": self.seller_id}
        if reason is not None:
            if int(reason) not in COMPLETE_REASONS:
                raise InvalidRequest("bad reason", mall=MALL, code="completeConditionId",
                                     reason="完了理由は1〜5で指定してください。")
            payload["completeConditionId"] = int(reason)
        self._ok(self._call("PUT", "externalTalkComplete", params={"topicId": topic_id}, json=payload,
                            empty_ok=True), "complete")

    def make_private(self, topic_id: str) -> None:
        """Make the topic private (needed before files can be attached)."""
        topic_id = self._check_topic(topic_id)
        self._ok(self._call("PUT", "externalTalkPrivate", params={"topicId": topic_id},
                            json={"sellerId": self.seller_id}, empty_ok=True), "private")

    def upload(self, topic_id: str, filename: str, content: bytes, content_type: str | None = None) -> YahooFile:
        """Upload a file for a later post (private topics only; JPEG/PNG/GIF/PDF)."""
        topic_id = self._check_topic(topic_id)
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if ext not in FILE_TYPES or not content:
            raise InvalidRequest("bad file", mall=MALL, code="file",
                                 reason="添付できるのはJPEG/PNG/GIF/PDFの空でないファイルです。")
        data = self._call("POST", "externalTalkFileAdd", params={"topicId": topic_id, "sellerId": self.seller_id},
                          files={"file": (filename, content, content_type or FILE_TYPES[ext])})
        key = find_key(data, "objectKey")
        if not key:
            raise MalformedResponse("upload returned no objectKey", mall=MALL)
        return YahooFile(str(find_key(data, "fileName") or filename), str(key), ext, len(content))

    def download(self, object_key: str, *, max_bytes: int = 10 * 1024 * 1024, filename: str | None = None) -> Download:
        """The bytes of a message file (ResponseTooLarge over max_bytes)."""
        reply = self._call("GET", "externalTalkFileDownload", params={"sellerId": self.seller_id, "key": object_key},
                           max_bytes=max_bytes, raw=True)
        ctype = reply.header("Content-Type", "application/octet-stream").split(";")[0].strip()
        if ctype.endswith(("/xml", "/json")):
            # Files are JPEG/PNG/GIF/PDF only: an XML/JSON body is Yahoo!'s error document, even with 200.
            json_body(reply)
        return Download(reply.content, ctype, filename or object_key.rsplit("/", 1)[-1])

    def delete_file(self, object_key: str) -> None:
        """Delete an uploaded file that was not posted yet."""
        self._ok(self._call("DELETE", "externalTalkFileDelete", params={"key": object_key, "sellerId": self.seller_id},
                            empty_ok=True), "delete")


def _unix(value):
    return value if isinstance(value, int) else unix_seconds(value)
