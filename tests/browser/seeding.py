"""Data behind every staff page for the page-by-page browser checks: the demo shop, mall accounts
in trouble, mail of every kind and state, replies, audit rows of every action, history, a
template, a rule, a token and a demo mailbox with threads and a broken encoded word."""
import datetime as dt
import os
from email.message import EmailMessage

from sqlalchemy import select

from plugin import audit_labels, clock, helpdesk, mail_templates, outbox, settings, tokens
from plugin.demo import seed as demo_seed
from plugin.demo.mailbox import mailbox_dir
from plugin.demo.malls import seed_mall_accounts
from plugin.extensions import db
from plugin.forms.models import FormSubmission
from plugin.forms.service import find_form
from plugin.models import AuditLog, Shop, User
from plugin.outbox import OutboxAttempt, history
from sync import routing
from sync.models import MallAccount
from sync.replies import complete
from sync.replies.models import ReplyJob, ReplyMail

ADMIN = ("admin@example.jp", "admin-browser-pass-1")
AGENT = ("agent@example.jp", "agent-browser-pass-1")


def _mail(subject, to="inbox@mail.relationapp.jp"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "お茶の山田園 本店 <info@yamadaen.example.jp>", to, subject
    msg.set_content("お問い合わせありがとうございます。\n在庫を確認いたします。")
    return msg


def _outbox():
    """One mail of every kind, and one in every state (a sent one counted the old way, with 0 attempts)."""
    rows = []
    for kind, state, subject in (
            ("mall", "staged", "【楽天】商品問い合わせ 有機緑茶 100g [391234-20261128-1]"),
            ("mall", "queued", "【Yahoo!】商品についての質問 在庫について"),
            ("form_shop", "sending", "お問い合わせ（山田 花子 様・受付番号 1）"),
            ("form_ack", "sent", "【お茶の山田園 本店】お問い合わせありがとうございます"),
            ("reply_bounce", "failed", "返信をお客様に送れませんでした"),
            ("reminder", "dead", "楽天のライセンスキーの期限が近づいています"),
            ("mail", "discarded", "テスト送信")):
        row = outbox.enqueue(_mail(subject), staged=state == "staged", kind=kind)
        row.state = state
        if state in ("failed", "dead"):
            row.attempts, row.last_error = 3, "451 4.7.1 一時的に受け付けられません（greylisted）"
            db.session.add(OutboxAttempt(outbox_id=row.id, outcome="temporary", code=451, text="4.7.1 greylisted"))
        if state == "sent":
            row.sent_at, row.attempts = clock.now(), 0
        rows.append(row)
    db.session.flush()
    return rows


def _replies(account):
    """A reply that was posted, one quarantined, and mall jobs that wait or failed."""
    good = ReplyMail(state="accepted", rcpt="r+x@reply.localhost", mail_from="agent@example.jp", raw=b"x", size=1,
                     account_id=account.id, inquiry_id="391234-20261128-1", sender="agent@example.jp",
                     subject="Re: 【楽天】商品問い合わせ", text="在庫がございます。")
    bad = ReplyMail(state="quarantined", rcpt="r+y@reply.localhost", mail_from="agent@example.jp", raw=b"y",
                    size=1, attempts=5, subject="Re: 【楽天】受注問い合わせ",
                    problem="取り込みに5回失敗したため隔離しました。管理者が再処理するか破棄してください。")
    db.session.add_all([good, bad])
    db.session.flush()
    now = clock.now()
    for kind, state in (("reply", "queued"), ("complete", "failed"), ("read", "dead")):
        db.session.add(ReplyJob(kind=kind, state=state, account_id=account.id, inquiry_id="391234-20261128-1",
                                reply_mail_id=good.id, text="在庫がございます。", attempts=2 if state != "queued" else 0,
                                next_attempt_at=now, last_error="R-Messe が 503 を返しました（一時的な障害）。"
                                if state != "queued" else None))
    return good


def _audit():
    """An audit row for every labelled action, and one whose action nobody labelled yet."""
    params = {"email": "hanako.sato@example.jp", "shop": "default", "env": "production", "kind": "form_ack",
              "role": "agent", "mall": "rakuten", "generated": True}
    for i, action in enumerate([*audit_labels.ACTION_LABELS, "member.view", "brand_new.thing"]):
        db.session.add(AuditLog(at=clock.now() - dt.timedelta(minutes=i), actor="admin@example.jp",
                                action=action, params=params, result_count=1, ip="127.0.0.1"))


def _mailbox(folder):
    """Three mails of one thread and one with a From name shaped like a broken encoded word."""
    os.makedirs(folder, exist_ok=True)
    mails = [
        ("<q1@reply.localhost>", "", "【楽天】商品問い合わせ", "=?utf-8?b?5bGx55SwIOiKseWtkA==?= <r+a@reply.localhost>"),
        ("<q2@reply.localhost>", "<q1@reply.localhost>", "Re: 【楽天】商品問い合わせ", "お茶の山田園 <info@yamadaen.example.jp>"),
        ("<q3@reply.localhost>", "<q2@reply.localhost>", "Re: 【楽天】商品問い合わせ", "=?utf-8?b?5bGx55SwIOiKseWtkA==?= <r+a@reply.localhost>"),
        ("<z1@reply.localhost>", "", "フォームからのお問い合わせ", "=?utf-8?b?invalid?= <x@example.jp>"),
    ]
    names = []
    for i, (mid, parent, subject, sender) in enumerate(mails):
        head = (f"X-Envelope-To: demo-inbox@mail.relationapp.jp\r\nFrom: {sender}\r\nTo: demo-inbox@mail.relationapp.jp\r\n"
                f"Subject: {subject}\r\nDate: Sun, 29 Nov 2026 1{i}:06:00 +0900\r\nMessage-ID: {mid}\r\n")
        if parent:
            head += f"In-Reply-To: {parent}\r\nReferences: {parent}\r\n"
        name = f"{1796130568409525 + i:016d}-0000000{i}.eml"
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write((head + "Content-Type: text/plain; charset=utf-8\r\n\r\n在庫はありますか？\r\n").encode())
        names.append(name)
    return names


def seed_everything(app, client):
    """Fill the database (and the demo mailbox folder); returns the ids the detail pages need."""
    result = demo_seed.seed(admin_password=ADMIN[1], agent_password=AGENT[1])
    shop = db.session.get(Shop, result["shop"].id)
    seed_mall_accounts()
    rakuten, yahoo = db.session.query(MallAccount).order_by(MallAccount.id).all()
    yahoo.last_error_ja = "リフレッシュトークンの期限が切れています。ストアクリエイターProで再認可してください。"
    yahoo.paused_reason = "auth"
    routing.add_rule({"address": "returns@mail.relationapp.jp", "keyword": "返品", "note": "返品窓口"})
    mail_templates.save(shop.id, "form_ack", "【{{ shop.name }}】ご連絡ありがとうございます", "{{ customer.name }} 様",
                        actor=ADMIN[0])
    tokens.create_token("自社サイトの会員連携")
    settings.set_value("helpdesk.demo.reply_from", "info@yamadaen.example.jp, @helpdesk.example", actor=ADMIN[0])
    helpdesk.update_environment("production", {"url": "https://shop.relationapp.jp", "inbox_id": 3}, actor=ADMIN[0])
    rows = _outbox()
    reply = _replies(rakuten)
    _audit()
    db.session.commit()
    form = find_form("contact")
    client.post("/forms/contact", json={"name": "山田 花子", "email": "hanako@example.jp",
                                       "message": "有機緑茶の在庫はありますか？"})
    submission = db.session.scalars(select(FormSubmission).order_by(FormSubmission.id.desc())).first()
    return {
        "member_id": [1], "order_id": [1], "account_id": [rakuten.id, yahoo.id], "oid": [r.id for r in rows],
        "mail_id": [reply.id], "user_id": list(db.session.scalars(select(User.id).order_by(User.id))),
        "form_id": [form.id], "submission_id": [submission.id], "shop_code": [shop.code],
        "kind": list(mail_templates.KINDS), "mall": ["rakuten", "yahoo"], "name": _mailbox(mailbox_dir(app)),
        "token": [complete.token(rakuten.id, "391234-20261128-1")],
        "query": {"admin.outbox_released": {"ids": history.encode_ids(r.id for r in rows)}},
    }
