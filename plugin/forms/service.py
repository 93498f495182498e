"""Forms without Flask: define a form, and turn a submission into stored rows and outbox mail."""
import logging
import re
import secrets

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from plugin import clock, helpdesk, mail_templates, settings
from plugin.compose import ComposeError, address, build_message, make_msgid
from plugin.extensions import db
from plugin.forms import addresses
from plugin.forms import fields as form_fields
from plugin.forms.models import FormSubmission, InquiryForm
from plugin.invalid import InvalidInput
from plugin.models import Shop
from plugin.outbox import enqueue

log = logging.getLogger(f"mallbridge.{__name__}")
SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SETTINGS = [settings.section(
    "forms", "問い合わせフォーム",
    settings.setting("forms.sender", type="email", default=None,
                     label="フォームメールの既定の差出人",
                     help="フォームにも店舗にも差出人アドレスがないときに使います。空欄なら noreply@<返信用ドメイン>。"),
)]
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


def effective_bcc(form):
    """The form's BCC list, or the active helpdesk environment's forwarding address."""
    if form.bcc_list:
        return form.bcc_list
    address = helpdesk.active_forwarding_address()
    return [address] if address else []


def sender_address(form, default_domain):
    """From address of the form's mails: the form's, the shop's, the configured default, noreply@domain."""
    return form.from_address or form.shop.email or settings.get("forms.sender") or f"noreply@{default_domain}"


def _context(form, submission, values, attachment_names, form_url):
    shop = form.shop
    return {
        "shop": {"name": shop.name, "code": shop.code, "phone": shop.phone or "", "email": shop.email or ""},
        "staff": {"name": "", "email": ""},
        "customer": {"name": values.get("name", ""), "email": values.get("email", ""), "tel": values.get("tel", "")},
        "order": {"number": values.get("order_number", "")},
        "form": {"title": form.title, "slug": form.slug, "url": form_url or ""},
        "inquiry": {"id": submission.id, "message": values.get("message", ""),
                    "text": form_fields.summary(form.fields, values, attachment_names),
                    "submitted_at": clock.to_jst(submission.created_at).strftime("%Y-%m-%d %H:%M"),
                    "type": "お問い合わせ", "title": form.title, "item_name": ""},
        "mall": {"label": "自社サイト", "name": "自社サイト"},
    }


def build_mails(form, submission, values, attachments, *, domain, form_url=None):
    """[(role, EmailMessage)]: the notice to the shop (inbox in BCC) and the acknowledgement."""
    ctx = _context(form, submission, values, [a.filename for a in attachments], form_url)
    sender = sender_address(form, domain)
    name = values.get("name") or ""
    customer = values.get("email") or None
    try:
        customer = customer and address(customer).addr_spec
    except ComposeError:
        # Never let a strange customer address stop the shop's notice; it goes without Reply-To.
        log.warning("form %s: submission %s has an unusable customer address", form.slug, submission.id)
        customer = None
    token = secrets.token_hex(4)
    headers = {"X-Mallbridge-Shop": form.shop.code, "X-Mallbridge-Form": form.slug,
               "X-Mallbridge-Submission": str(submission.id),
               "X-Mallbridge-Order": values.get("order_number") or None}
    subject, body = mail_templates.render(form.shop_id, "form_to_shop", ctx)
    mails = [("shop", build_message(
        sender=(sender, name or form.title), to=form.to_list, bcc=effective_bcc(form),
        reply_to=(customer, name) if customer else None, subject=subject, body=body,
        message_id=make_msgid(f"form.{form.slug}.{submission.id}.{token}", domain),
        headers=headers, attachments=attachments))]
    if form.ack_template and customer:
        subject, body = mail_templates.render(form.shop_id, form.ack_template, ctx)
        reply_to = form.to_list[0] if form.to_list and form.to_list[0] != sender else None
        mails.append(("ack", build_message(
            sender=(sender, form.shop.name), to=[(customer, name)], reply_to=reply_to, subject=subject,
            body=body, message_id=make_msgid(f"form.{form.slug}.{submission.id}.{token}.ack", domain),
            # RFC 3834: an automatic reply, so vacation responders do not answer it.
            headers={"Auto-Submitted": "auto-replied", "X-Mallbridge-Shop": form.shop.code,
                     "X-Mallbridge-Form": form.slug})))
    return mails


def _enqueue(msg, **kw):

    return enqueue(msg, **kw)


def submit(form, values, attachments, *, ip=None, user_agent=None, origin=None, spam=False,
           domain="reply.localhost", form_url=None):
    """Store a submission and, in the same transaction, its mails in the outbox; commits.

    The row is flushed before any mail is built; if a mail cannot be built (a broken address,
    a template error) the submission is still committed with `mail_error`, so nothing a
    customer was told we received is ever lost.
    """
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
        return submission
    ids = []
    try:
        mails = build_mails(form, submission, values, attachments, domain=domain, form_url=form_url)
        for role, msg in mails:
            row = _enqueue(msg, kind=f"form_{role}", shop_id=form.shop_id,
                           dedupe_key=f"form:{submission.id}:{role}")
            ids.append(row.id)
    except SQLAlchemyError:
        # The transaction is gone; keep at least the submission (and say why no mail exists).
        db.session.rollback()
        log.exception("form %s: could not enqueue mail; storing the submission alone", form.slug)
        return _store_alone(data, "メールを送信キューに登録できませんでした（データベースエラー）。")
    except Exception as exc:
        log.exception("form %s: submission %s stored but its mail could not be built", form.slug, submission.id)
        submission.mail_error = str(exc)[:2000] or type(exc).__name__
    submission.outbox_ids = ids
    db.session.commit()
    return submission


def _store_alone(data, error):
    submission = FormSubmission(**data, mail_error=error)
    db.session.add(submission)
    db.session.commit()
    return submission


def shop_by_code(code):
    """The shop with this code (None when there is none)."""
    return db.session.scalar(select(Shop).where(Shop.code == code))
