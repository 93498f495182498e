"""Rakuten (R-Messe) behind the mall adapter interface (sync.malls.base)."""
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sync.malls.base import IP_UNCHECKED, Check, Credential, MallAdapter, ShopMessages, quoted, secret_field, text_field
from sync.malls.errors import Conflict, MallAuthError, MallError, PermanentMallError
from sync.malls.rakuten import poll, rules
from sync.malls.rakuten.client import RakutenClient
from sync.messages import MallFile, MallMessage
from sync.replies.rules import Result, check_files

# Back-office and storefront links. Kept here so a mall changing a URL is a one-line fix.
# Rakuten documents neither URL; where each pattern comes from (checked 2026-11):
# RMS order detail: the pattern shop tools open for one order — a userscript matching
# order-rp.rms.rakuten.co.jp/order-rb/individual-order-detail-sc/*, several order tools (Ruby, PHP/Laravel,
# JS) building …/init?orderNumber=<number>, one noting it was checked on the live screen.
ORDER_URL = "https://order-rp.rms.rakuten.co.jp/order-rb/individual-order-detail-sc/init?orderNumber={order}"
# R-Messe inquiry page: R-Messe lives on rmesse.rms.rakuten.co.jp; browser extensions for R-Messe
# match its inquiry pages as /inquiry/*, a helpdesk ingest builds /inquiry/<inquiryNumber>, and
# Rakuten's own notification mails link to /inquiry/… (practitioner sources, not official).
INQUIRY_URL = "https://rmesse.rms.rakuten.co.jp/inquiry/{inquiry}"
ITEM_BASE = "https://item.rakuten.co.jp"
# serviceSecret and licenseKey: printable ASCII without spaces; ESA values are at most 50 characters.
SECRET = r"[\x21-\x7e]{1,50}"
AUTH = "認証（serviceSecret・licenseKey）"
LISTING = "問い合わせ一覧の取得権限"


class RakutenAdapter(MallAdapter):
    """R-Messe: inquiries listed by creation date, replies without an id, one attachment."""

    name = "rakuten"
    label = "楽天"
    address_code = "r"
    customer_name = "楽天のお客様"
    external_id_field = "rakuten_shop_id"
    external_id_label = "店舗ID"
    form_fields = ("rakuten_shop_id", "service_secret", "license_key")
    credential = Credential("license key", "license_key", "楽天のライセンスキー（licenseKey）", "license_key")
    posts_return_id = False  # the reply API returns no id: the poster reads it from a fresh detail
    bills_conversations = True  # R-Messe: a monthly base price plus a fee per conversation

    def clean_fields(self, values: Mapping[str, Any], errors: dict[str, str], creating: bool) -> dict[str, Any]:
        """Shop ID (digits) and the two ESA secrets."""
        out = {"rakuten_shop_id": text_field(values, "rakuten_shop_id", errors, "楽天の店舗ID", r"\d{1,20}", creating)}
        for key, label in (("service_secret", "serviceSecret"), ("license_key", "licenseKey")):
            out[key] = secret_field(values, key, errors, SECRET, f"{label}は空白を含まない50文字以内の英数字記号です。",
                                    f"{label}を入力してください。", creating)
        return out

    def check_renewal(self, value: str | None) -> str | None:
        """A new licenseKey must look like one."""
        if not value or not re.fullmatch(SECRET, value.strip()):
            return "新しいlicenseKeyを入力してください（空白なし50文字以内）。"
        return None

    def client(self, account: Any, config: Mapping[str, Any], rate: float | None) -> RakutenClient:
        """An R-Messe client with the account's ESA credentials."""
        return RakutenClient(account.service_secret, account.license_key, account.rakuten_shop_id,
                             base_url=config["RAKUTEN_API_BASE"], rate=rate)

    def connection_test(self, account: Any, client: RakutenClient, now: dt.datetime) -> list[Check]:
        """Auth through the expiry endpoint (learning the expiry), then a 30-day count."""
        checks = []
        try:
            expiry = client.license_expiry()
            account.license_expires_at = expiry.astimezone(dt.UTC).replace(tzinfo=None)
            checks.append(Check(AUTH, True, f"認証できました。licenseKeyの有効期限は {expiry:%Y-%m-%d %H:%M}（日本時間）です。"))
        except MallError as exc:
            checks.append(Check(AUTH, False, exc.explanation_ja))
            if isinstance(exc, MallAuthError):
                return checks
        try:
            count = client.count(now - dt.timedelta(days=30), now)
            checks.append(Check(LISTING, True, f"取得できました（直近30日の問い合わせ {count} 件）。"))
            checks.append(Check("送信元IP", True, "楽天APIはこのサーバーからの接続を受け付けています。"))
        except MallError as exc:
            if exc.status == 403:
                checks.append(Check(LISTING, False, IP_UNCHECKED))
                checks.append(Check("送信元IP", False, "接続が拒否されました（403）。RMSのAPI利用設定とIP制限を確認してください。"))
            else:
                checks.append(Check(LISTING, False, exc.explanation_ja))
        return checks

    def expires_at(self, account: Any) -> dt.datetime | None:
        """The license key's expiry, as learnt from the expiry endpoint (keys live 90 days)."""
        return account.license_expires_at

    def renew_how(self, account: Any) -> str:
        """Issue a new key in RMS, then store it."""
        return ("RMS › WEB APIサービス で新しいlicenseKeyを発行し、`mallbridge accounts renew "
                f"{account.id} --license-key 新しいキー` または管理画面のモールアカウントで更新してください。")

    def scan(self, account: Any, client: RakutenClient, cursor: Any, now: dt.datetime,
             floor: dt.datetime | None) -> poll.RakutenScan:
        """Re-scan the last 60 days (or back to the last complete pass) for changed inquiries."""
        return poll.RakutenScan(account, client, cursor, now, floor)

    def fetch_file(self, client: RakutenClient, file: MallFile, cap: int) -> MallFile:
        """Download an attachment (kept 90 days by R-Messe)."""
        return poll.fetch_file(client, file, cap)

    def links(self, account: Any, msg: MallMessage) -> dict[str, str]:
        """The R-Messe inquiry, the RMS order and the item page."""
        out = {"inquiry": INQUIRY_URL.format(inquiry=quoted(msg.inquiry_id))}
        if msg.order_number:
            out["order"] = ORDER_URL.format(order=quoted(msg.order_number))
        if msg.item_url:
            url = msg.item_url.strip()
            out["item"] = url if url.startswith("http") else ITEM_BASE + "/" + url.lstrip("/")
        return out

    def check_reply(self, text: str, files: Sequence[Any] = ()) -> Result:
        """2000 characters, 300 per line (wrapped), Rakuten links only, one attachment."""
        out, problems, wrapped = rules.check_text(text)
        kept, file_problems = check_files(list(files), limit=rules.MAX_FILES, label=self.label)
        return Result(out, kept, problems + file_problems, wrapped)

    def shop_messages(self, client: RakutenClient, inquiry_id: str) -> ShopMessages:
        """The merchant's replies of an inquiry."""
        inquiry = client.detail(inquiry_id)
        return ShopMessages([m for m in inquiry.messages if m.sender == "merchant"])

    def post_reply(self, client: RakutenClient, inquiry_id: str, text: str, files: Sequence[Any]) -> str | None:
        """Upload the attachment, then post; a 409 means the same reply is already there."""
        attachment = client.upload(files[0].name, files[0].data, files[0].content_type) if files else None
        try:
            client.reply(inquiry_id, text, attachment)
        except Conflict:
            pass  # 409 "duplicate data, not registered": the same reply is already there
        return None

    def complete(self, client: RakutenClient, inquiry_id: str, reason: int | None) -> None:
        """Complete the inquiry; "already completed" counts as done."""
        result = client.complete([inquiry_id])
        errors = [e for e in result.errors if "already" not in str(e[1] if isinstance(e, tuple) else e)]
        if errors and inquiry_id not in result.ok:
            raise PermanentMallError("complete refused", mall=self.name, reason=f"楽天が完了にできませんでした: {errors}")

    def mark_read(self, client: RakutenClient, inquiry_id: str) -> None:
        """Mark read; "already set" is fine (per-item errors are ignored)."""
        client.mark_read([inquiry_id])
