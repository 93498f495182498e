"""Yahoo! Shopping store Q&A behind the mall adapter interface (sync.malls.base)."""
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from plugin import clock
from sync.malls.base import IP_UNCHECKED, Check, Credential, MallAdapter, ShopMessages, quoted, secret_field, text_field
from sync.malls.errors import InvalidRequest, MallError
from sync.malls.yahoo import poll
from sync.malls.yahoo.client import COMPLETE_REASONS, MAX_BODY, Token, YahooClient, load_public_key
from sync.messages import MallFile, MallMessage
from sync.replies.rules import EMPTY, Result, check_files

# Store Creator Pro is https://pro.store.yahoo.co.jp/pro.<store account> (Yahoo!'s own FAQ); the store
# account is the API's sellerId. Order detail …/order/manage/detail/<orderId>: used by two independent
# order tools (Ruby, JS).
ORDER_URL = "https://pro.store.yahoo.co.jp/pro.{seller}/order/manage/detail/{order}"
# Store Q&A (問い合わせ管理) detail: BEST GUESS. No public source shows this page's URL; only the
# Store Creator Pro base above is confirmed. Check it against a live store and fix it here.
TALK_URL = "https://pro.store.yahoo.co.jp/pro.{seller}/talk/detail?topicId={inquiry}"
# Storefront item page: store.shopping.yahoo.co.jp/<store account>/<item code>.html (public store pages).
ITEM_URL = "https://store.shopping.yahoo.co.jp/{seller}/{item}.html"
TOKEN = r"[\x21-\x7e]{1,2000}"
REFRESH_TOKEN_DAYS = 28  # a refresh token lives 4 weeks from its issue
# Yahoo! documents no count or size limit for externalTalkFileAdd; this cap is ours, so a huge mail
# cannot fill the queue.
MAX_FILES = 5
AUTH = "認証（クライアントID・シークレット・リフレッシュトークン）"
LISTING = "質問一覧の取得権限"


class YahooAdapter(MallAdapter):
    """Yahoo! store Q&A: topics listed by the customer's newest post, signed calls, a 4-week token."""

    name = "yahoo"
    label = "Yahoo!"
    address_code = "y"
    customer_name = "Yahoo!のお客様"
    external_id_field = "seller_id"
    external_id_label = "セラーID"
    form_fields = ("seller_id", "client_id", "client_secret", "refresh_token", "public_key", "key_version")
    credential = Credential("refresh token", "refresh_token", "Yahoo!のリフレッシュトークン", "refresh_token")
    complete_reasons = COMPLETE_REASONS

    def clean_fields(self, values: Mapping[str, Any], errors: dict[str, str], creating: bool) -> dict[str, Any]:
        """Seller ID, app credentials, refresh token, and the public key (PEM) with its version."""
        out = {"seller_id": text_field(values, "seller_id", errors, "セラーID", r"[A-Za-z0-9_.-]{1,64}", creating),
               "client_id": text_field(values, "client_id", errors, "クライアントID", r"[\x21-\x7e]{1,255}", creating),
               "key_version": text_field(values, "key_version", errors, "公開鍵のバージョン", r"\d{1,8}", creating)}
        for key, label in (("client_secret", "シークレット"), ("refresh_token", "リフレッシュトークン")):
            out[key] = secret_field(values, key, errors, TOKEN, f"{label}の形式が正しくありません。",
                                    f"{label}を入力してください。", creating)
        pem = (values.get("public_key") or "").strip()
        if pem:
            try:
                load_public_key(pem)
            except ValueError:
                errors["public_key"] = "公開鍵はPEM形式（-----BEGIN PUBLIC KEY-----で始まる）で指定してください。"
        elif creating:
            errors["public_key"] = "公開鍵を指定してください。"
        out["public_key"] = pem or None
        return out

    def check_renewal(self, value: str | None) -> str | None:
        """A new refresh token must look like one."""
        if not value or not re.fullmatch(TOKEN, value.strip()):
            return "新しいリフレッシュトークンを入力してください。"
        return None

    def client(self, account: Any, config: Mapping[str, Any], rate: float | None) -> YahooClient:
        """A client that reuses the stored access token while it is valid."""
        token = None
        if account.access_token and account.access_token_expires_at:
            expires = account.access_token_expires_at.replace(tzinfo=dt.UTC).timestamp()
            token = Token(account.access_token, expires)
        return YahooClient(account.seller_id, account.client_id, account.client_secret, account.refresh_token,
                           account.public_key, account.key_version, api_base=config["YAHOO_API_BASE"],
                           auth_base=config["YAHOO_AUTH_BASE"], token=token, rate=rate)

    def keep_client_state(self, account: Any, client: YahooClient) -> None:
        """Store the access token and a rotated refresh token."""
        if client.token is None:
            return
        if client.token.access_token != account.access_token:
            account.access_token = client.token.access_token
            account.access_token_expires_at = dt.datetime.fromtimestamp(
                client.token.expires_at, dt.UTC).replace(tzinfo=None)
        if client.refresh_token and client.refresh_token != account.refresh_token:
            account.refresh_token = client.refresh_token
            account.refresh_token_issued_at = clock.now()

    def standing_problem(self, client: YahooClient) -> Exception | None:
        """Yahoo! answered, but says the public-key signature was not accepted."""
        return client.authorize_problem

    def connection_test(self, account: Any, client: YahooClient, now: dt.datetime) -> list[Check]:
        """Token refresh, then one list call (which also shows whether the signature is accepted)."""
        checks = []
        try:
            client.refresh_access_token()
            checks.append(Check(AUTH, True, "アクセストークンを取得できました。"))
        except MallError as exc:
            checks.append(Check(AUTH, False, exc.explanation_ja))
            return checks
        try:
            page = client.list(1, 1)
            signed = client.authorize_status
            checks.append(Check(LISTING, True, f"取得できました（質問 {page.count} 件）。"))
            if signed and signed.lower() != "authorized":
                checks.append(Check("公開鍵認証", False,
                                    f"公開鍵認証が受け付けられていません（{signed}）。公開鍵とバージョンを確認してください。"))
            else:
                checks.append(Check("公開鍵認証", True, "公開鍵による署名が受け付けられました。"))
            checks.append(Check("送信元IP", True, "このサーバーの送信元IPは登録済みです。"))
        except MallError as exc:
            if exc.code == "px-04306" or exc.status == 403:
                # Yahoo! refuses the address before it looks at permissions: say so, not "no permission".
                checks.append(Check(LISTING, False, IP_UNCHECKED))
                checks.append(Check("送信元IP", False, exc.explanation_ja))
            else:
                checks.append(Check(LISTING, False, exc.explanation_ja))
        return checks

    def expires_at(self, account: Any) -> dt.datetime | None:
        """Four weeks after the refresh token was issued."""
        if account.refresh_token_issued_at:
            return account.refresh_token_issued_at + dt.timedelta(days=REFRESH_TOKEN_DAYS)
        return None

    def renew_how(self, account: Any) -> str:
        """Re-authorise in Store Creator Pro, then store the new token."""
        return "ストアクリエイターProで再認可して新しいリフレッシュトークンを取得し、管理画面のモールアカウントで更新してください。"

    def scan(self, account: Any, client: YahooClient, cursor: Any, now: dt.datetime,
             floor: dt.datetime | None) -> poll.YahooScan:
        """Newest customer post first, until known and unchanged; then the seller-post query."""
        return poll.YahooScan(account, client, cursor, now, floor)

    def fetch_file(self, client: YahooClient, file: MallFile, cap: int) -> MallFile:
        """Download a message file."""
        return poll.fetch_file(client, file, cap)

    def links(self, account: Any, msg: MallMessage) -> dict[str, str]:
        """The store's Q&A page, the order in Store Creator Pro and the store's item page."""
        seller = quoted(account.seller_id or "")
        out = {"inquiry": TALK_URL.format(seller=seller, inquiry=quoted(msg.inquiry_id))}
        if msg.order_number:
            out["order"] = ORDER_URL.format(seller=seller, order=quoted(msg.order_number))
        if msg.item_code:
            out["item"] = ITEM_URL.format(seller=seller, item=quoted(msg.item_code))
        return out

    def check_reply(self, text: str, files: Sequence[Any] = ()) -> Result:
        """2000 characters; PNG/JPEG/GIF/PDF files (private topics only, checked when posting)."""
        if not text.strip():
            problems = [EMPTY]
        elif len(text) > MAX_BODY:
            problems = [(f"Yahoo!ショッピングの返信は{MAX_BODY}文字までです。本文が{len(text)}文字あります。"
                        f"{len(text) - MAX_BODY}文字以上短くしてください。")]
        else:
            problems = []
        kept, file_problems = check_files(list(files), limit=MAX_FILES, label="Yahoo!ショッピング")
        return Result(text, kept, problems + file_problems, 0)

    def shop_messages(self, client: YahooClient, inquiry_id: str) -> ShopMessages:
        """The store's messages of a topic, and whether the topic is private."""
        topic = client.detail(inquiry_id)
        return ShopMessages([m for m in topic.messages if m.sender == "seller"], topic.is_private)

    def post_reply(self, client: YahooClient, inquiry_id: str, text: str, files: Sequence[Any]) -> str | None:
        """Upload the files (private topics only), then post; Yahoo! returns the new message's id."""
        uploaded = []
        if files:
            if self.shop_messages(client, inquiry_id).private is False:
                raise InvalidRequest("topic not private", mall=self.name, code="file", reason=(
                    "Yahoo!ショッピングでは非公開の質問にしかファイルを添付できません。添付を外して返信し直すか、"
                    "ストアクリエイターProで対応してください。"))
            uploaded = [client.upload(inquiry_id, f.name, f.data, f.content_type) for f in files]
        result = client.post(inquiry_id, text, uploaded)
        return str(result.message_id) if result.message_id is not None else None

    def complete(self, client: YahooClient, inquiry_id: str, reason: int | None) -> None:
        """Complete the topic with the agent's reason (1–5)."""
        client.complete(inquiry_id, reason)

    def mark_read(self, client: YahooClient, inquiry_id: str) -> None:
        """Mark the topic read by the store."""
        client.mark_read(inquiry_id)
