"""Forms without Flask: define a form, and turn a submission into stored rows and outbox mail."""
import logging
import re

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from plugin import clock, settings
from plugin.extensions import db
from plugin.forms import addresses, mails
from plugin.forms import fields as form_fields
from plugin.forms.mails import build_mails, customer_address
from plugin.forms.models import FormSubmission, InquiryForm
from plugin.invalid import InvalidInput
from plugin.models import Shop
from plugin.outbox import enqueue

log = logging.getLogger(f"mallbridge.{__name__}")
SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
DEFAULT_ACKS_PER_DAY = 3


def _between(low, high):
    def check(value):
        return None if low <= value <= high else f"{low}〜{high} の範囲で入力してください。"
    return check


SETTINGS = [settings.section(
    "forms", "問い合わせフォーム",
    settings.setting("forms.sender", type="email", default=None,
                     label="フォームメールの既定の差出人",
                     help="フォームにも店舗にも差出人アドレスがないときに使います。空欄なら noreply@<返信用ドメイン>。"),
    settings.setting("forms.ack_per_day", type="int", default=DEFAULT_ACKS_PER_DAY, validate=_between(1, 100),
                     label="自動返信の上限（同じ宛先へ1日あたり）",
                     help="同じメールアドレスへの受付確認メールは、24時間にこの通数までです。超えた分のお問い合わせも"
                          "受け付けて店舗に届きますが、お客様への自動返信は送りません（他人のアドレスを入力されても、"
                          "店舗のアドレスから迷惑メールが送られ続けないように）。"),
    settings.setting("forms.ack_quote_chars", type="int", default=200, validate=_between(0, 2000),
                     label="自動返信に引用する文字数",
                     help="お客様への自動返信には、お問い合わせ内容をこの文字数まで引用します（0 なら引用しません）。"
                          "全文は店舗宛ての通知に届きます。"),
)]
effective_bcc = mails.effective_bcc  # the admin views and the CLI ask the service
ACK_TEMPLATES = {"form_ack": "送信する", "": "送信しない"}



def find_form(slug):
    """The form with this slug, or None."""
    return db.session.scalar(select(InquiryForm).where(InquiryForm.slug == slug))


def save_form(form=None, *, slug, shop, to, bcc="", title="", from_address="", origins="",
              ack_template="form_ack", enabled=True, fields=None):
    """Validate and store a form (new when `form` is None); does not commit. Raises InvalidInput."""
    errors = {}
    slug = (slug or "").strip()
    if not SLUG.match(slug):
        errors["slug"] = "スラッグは半角英数字・ハイフン・下線の64文字以内で入力してください。"
    else:
        other = find_form(slug)
        if other is not None and other is not form:
            errors["slug"] = f"スラッグ「{slug}」は既に使われています。"
    if shop is None:
        errors["shop"] = "店舗を選んでください。"
    to_list, problems = addresses.parse_addresses(to)
    if problems:
        errors["to"] = " ".join(problems)
    elif not to_list:
        errors["to"] = "宛先（To）を1つ以上入力してください。"
    bcc_list, problems = addresses.parse_addresses(bcc)
    if problems:
        errors["bcc"] = " ".join(problems)
    sender, problems = addresses.parse_addresses(from_address)
    if problems or len(sender) > 1:
        errors["from_address"] = " ".join(problems) or "差出人は1つだけ入力してください。"
    origin_list, problems = addresses.parse_origins(origins)
    if problems:
        errors["origins"] = " ".join(problems)
    if (ack_template or "") not in ACK_TEMPLATES:
        errors["ack_template"] = "自動返信の設定が正しくありません。"
    title = (title or "").strip() or "お問い合わせ"
    if len(title) > 200:
        errors["title"] = "フォーム名は200文字以内で入力してください。"
    if errors:
        raise InvalidInput(errors)
    form = form or InquiryForm()
    form.slug, form.shop_id, form.title = slug, shop.id, title
    form.to_addresses, form.bcc_addresses = ", ".join(to_list), ", ".join(bcc_list) or None
    form.from_address = sender[0] if sender else None
    form.allowed_origins = "\n".join(origin_list) or None
    form.ack_template, form.enabled = ack_template or None, bool(enabled)
    form.fields = form_fields.normalized_config(fields if fields is not None else form.fields)
    form.fields = [{k: f[k] for k in ("name", "label", "required", "enabled")} for f in form.fields]
    db.session.add(form)
    return form


def _enqueue(msg, **kw):
    return enqueue(msg, **kw)


def may_acknowledge(form, values, throttle=None):
    """Whether this submission gets an acknowledgement; counts it against the recipient's daily limit.

    The acknowledgement goes to an address nobody has confirmed, so one address gets at most
    `forms.ack_per_day` of them a day, whoever types it in; the inquiry itself still reaches the
    shop. `throttle` None (tests, scripts) counts nothing.
    """
    customer = customer_address(values)
    if not form.ack_template or not customer:
        return False
    if throttle is None:
        return True
    per_day = settings.get("forms.ack_per_day") or DEFAULT_ACKS_PER_DAY
    if throttle.ack_allowed(customer, per_day):
        return True
    log.info("form %s: no acknowledgement; its address already had %s today", form.slug, per_day)
    return False


def submit(form, values, attachments, *, ip=None, user_agent=None, origin=None, spam=False,
           domain="reply.localhost", form_url=None, throttle=None):
    """Store a submission and, in the same transaction, its mails in the outbox; commits.

    Returns (submission, acknowledged): whether an acknowledgement to the customer was queued.
    The row is flushed before any mail is built; if a mail cannot be built (a broken address,
    a template error) the submission is still committed with `mail_error`, so nothing a
    customer was told we received is ever lost.
    """
    # Counted before the row is written: on SQLite the flush takes the write lock, which the
    # counter's own short transaction would then wait for.
    ack = not spam and may_acknowledge(form, values, throttle)
    data = {"form_id": form.id, "values": values, "spam": bool(spam), "ip": (ip or "")[:64] or None,
            "user_agent": (user_agent or "")[:500] or None, "origin": (origin or "")[:200] or None,
            "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": len(a.data)}
                            for a in attachments], "created_at": clock.now()}
    submission = FormSubmission(**data)
    db.session.add(submission)
    db.session.flush()
    if spam:
        db.session.commit()
        log.info("form %s: submission %s flagged as spam (honeypot); no mail sent", form.slug, submission.id)
        return submission, False
    ids, queued = [], set()
    try:
        mails = build_mails(form, submission, values, attachments, domain=domain, form_url=form_url, ack=ack)
        for role, msg in mails:
            row = _enqueue(msg, kind=f"form_{role}", shop_id=form.shop_id,
                           dedupe_key=f"form:{submission.id}:{role}")
            ids.append(row.id)
            queued.add(role)
    except SQLAlchemyError:
        # The transaction is gone; keep at least the submission (and say why no mail exists).
        db.session.rollback()
        log.exception("form %s: could not enqueue mail; storing the submission alone", form.slug)
        return _store_alone(data, "メールを送信キューに登録できませんでした（データベースエラー）。"), False
    except Exception as exc:
        log.exception("form %s: submission %s stored but its mail could not be built", form.slug, submission.id)
        submission.mail_error = str(exc)[:2000] or type(exc).__name__
    submission.outbox_ids = ids
    db.session.commit()
    return submission, "ack" in queued


def _store_alone(data, error):
    submission = FormSubmission(**data, mail_error=error)
    db.session.add(submission)
    db.session.commit()
    return submission


def shop_by_code(code):
    """The shop with this code (None when there is none)."""
    return db.session.scalar(select(Shop).where(Shop.code == code))
