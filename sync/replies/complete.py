"""Completing an inquiry on its mall: the signed link in every delivered mail, and the request.

The link carries (account, inquiry) signed with SECRET_KEY, so it cannot be edited to point
at another inquiry; following it still needs a staff login and a confirmation. Completion
itself is a queued job (sync.replies.queue), posted by `sync run` like replies. A mall whose
completion takes a reason (Yahoo!) has `complete_reasons` on its adapter; the page asks for one.
"""
import os

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from plugin.extensions import db
from sync.models import MallAccount, MallInquiry
from sync.replies import options, queue
from sync.replies.models import ReplyJob

SALT = "mallbridge.complete"
LINK_LABEL = "この問い合わせを完了にする"


class CompleteError(ValueError):
    """The completion cannot be requested; str(exc) is Japanese for the page."""


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def token(account_id: int, inquiry_id: str) -> str:
    """The signed token naming one inquiry of one account."""
    return _serializer().dumps([int(account_id), str(inquiry_id)])


def read_token(value: str | None) -> tuple[int, str] | None:
    """(account_id, inquiry_id) from a token, or None when it was forged or altered."""
    try:
        data = _serializer().loads(value or "")
    except BadSignature:
        return None
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], int) and isinstance(data[1], str)):
        return None
    return data[0], data[1]


def link(account_id: int, inquiry_id: str) -> str | None:
    """Absolute URL of the completion page (None when no public URL is known)."""
    value = token(account_id, inquiry_id)
    base = (options.get("public_url") or "").strip().rstrip("/")
    if base:
        return f"{base}/complete/{value}"
    if current_app.config.get("SERVER_NAME"):
        return url_for("complete.confirm", token=value, _external=True)
    if current_app.config.get("DEMO"):
        # `make run` serves the demo here (same rule as the sample URLs `demo seed` prints).
        host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("MALLBRIDGE_DEMO_PORT", "5000")
        return f"http://{host}:{port}/complete/{value}"
    return None


def mail_line(account_id: int, inquiry_id: str) -> str | None:
    """The line sync.mailer puts into every delivered mail, or None."""
    url = link(account_id, inquiry_id)
    return f"{LINK_LABEL}: {url}" if url else None


def lookup(value: str) -> tuple[MallAccount, MallInquiry | None, str]:
    """(account, inquiry row or None, inquiry_id) for a token; CompleteError when unusable."""
    found = read_token(value)
    if found is None:
        raise CompleteError("リンクが正しくありません（途中で切れたか、書き換えられています）。メールのリンクをそのまま開いてください。")
    account = db.session.get(MallAccount, found[0])
    if account is None:
        raise CompleteError("このリンクのモールアカウントは削除されています。")
    inquiry = db.session.query(MallInquiry).filter_by(account_id=account.id, inquiry_id=found[1]).first()
    return account, inquiry, found[1]


def status(account: MallAccount, inquiry_id: str) -> dict:
    """What the confirm page shows: the completion job so far, and whether we replied via the API."""
    return {"job": queue.latest_job(account.id, inquiry_id, "complete"),
            "api_reply": queue.open_job(account.id, inquiry_id, "reply") is not None,
            "reasons": account.adapter.complete_reasons}


def request(account: MallAccount, inquiry_id: str, reason: object = None, actor: str | None = None) -> ReplyJob:
    """Queue the completion (flushed, not committed); CompleteError with a Japanese reason."""
    if not account.enabled:
        raise CompleteError("このモールアカウントは無効になっています。管理者にアカウントの有効化を依頼してください。")
    job = queue.open_job(account.id, inquiry_id, "complete")
    if job is not None and job.state != "dead":
        raise CompleteError("この問い合わせはすでに完了にしています（または処理中です）。")
    reasons = account.adapter.complete_reasons
    if reasons:
        try:
            reason = int(reason)
        except (TypeError, ValueError):
            raise CompleteError("完了理由を選んでください。") from None
        if reason not in reasons:
            raise CompleteError("完了理由を選び直してください。")
    else:
        reason = None
    return queue.enqueue_complete(account.id, inquiry_id, reason=reason, actor=actor)
