"""The mails of a form submission: the notice to the shop and the acknowledgement to the customer.

The notice carries everything the customer sent. The acknowledgement goes to whatever address
was typed into a public form, from the shop's address, so it quotes only a short excerpt of
what was typed (setting `forms.ack_quote_chars`): a stranger cannot use it to mail their own
text to someone else in the shop's name.
"""
import logging
import secrets

from plugin import clock, helpdesk, mail_templates, settings
from plugin.compose import ComposeError, address, build_message, make_msgid
from plugin.forms import fields as form_fields

log = logging.getLogger(f"mallbridge.{__name__}")
DEFAULT_QUOTE = 200


def effective_bcc(form):
    """The form's BCC list, or the active helpdesk environment's forwarding address."""
    if form.bcc_list:
        return form.bcc_list
    forward = helpdesk.active_forwarding_address()
    return [forward] if forward else []


def sender_address(form, default_domain):
    """From address of the form's mails: the form's, the shop's, the configured default, noreply@domain."""
    return form.from_address or form.shop.email or settings.get("forms.sender") or f"noreply@{default_domain}"


def customer_address(values):
    """The customer's address as mail can carry it, or None (none typed, or unusable)."""
    try:
        return address(values["email"]).addr_spec if values.get("email") else None
    except ComposeError:
        return None


def _context(form, submission, values, attachment_names, form_url, quote=None):
    shop = form.shop
    name = values.get("name", "")
    message = values.get("message", "")
    if quote is not None:
        name, message = form_fields.excerpt(name, form_fields.SHORT_QUOTE, "…"), form_fields.excerpt(message, quote)
    return {
        "shop": {"name": shop.name, "code": shop.code, "phone": shop.phone or "", "email": shop.email or ""},
        "staff": {"name": "", "email": ""},
        "customer": {"name": name, "email": values.get("email", ""), "tel": values.get("tel", "")},
        "order": {"number": values.get("order_number", "")},
        "form": {"title": form.title, "slug": form.slug, "url": form_url or ""},
        "inquiry": {"id": submission.id, "message": message if quote != 0 else "",
                    "text": form_fields.summary(form.fields, values, attachment_names, quote=quote),
                    "submitted_at": clock.to_jst(submission.created_at).strftime("%Y-%m-%d %H:%M"),
                    "type": "お問い合わせ", "title": form.title, "item_name": ""},
        "mall": {"label": "自社サイト", "name": "自社サイト"},
    }


def quote_length():
    """Characters of the customer's text an acknowledgement may quote (setting)."""
    value = settings.get("forms.ack_quote_chars")
    return DEFAULT_QUOTE if value is None else value


def build_mails(form, submission, values, attachments, *, domain, form_url=None, ack=True):
    """[(role, EmailMessage)]: the notice to the shop (inbox in BCC) and, with `ack`, the acknowledgement."""
    names = [a.filename for a in attachments]
    sender = sender_address(form, domain)
    name = values.get("name") or ""
    customer = customer_address(values)
    if values.get("email") and not customer:
        # Never let a strange customer address stop the shop's notice; it goes without Reply-To.
        log.warning("form %s: submission %s has an unusable customer address", form.slug, submission.id)
    token = secrets.token_hex(4)
    headers = {"X-Mallbridge-Shop": form.shop.code, "X-Mallbridge-Form": form.slug,
               "X-Mallbridge-Submission": str(submission.id),
               "X-Mallbridge-Order": values.get("order_number") or None}
    subject, body = mail_templates.render(form.shop_id, "form_to_shop", _context(form, submission, values, names,
                                                                                  form_url))
    mails = [("shop", build_message(
        sender=(sender, name or form.title), to=form.to_list, bcc=effective_bcc(form),
        reply_to=(customer, name) if customer else None, subject=subject, body=body,
        message_id=make_msgid(f"form.{form.slug}.{submission.id}.{token}", domain),
        headers=headers, attachments=attachments))]
    if ack and form.ack_template and customer:
        ctx = _context(form, submission, values, names, form_url, quote=quote_length())
        subject, body = mail_templates.render(form.shop_id, form.ack_template, ctx)
        reply_to = form.to_list[0] if form.to_list and form.to_list[0] != sender else None
        mails.append(("ack", build_message(
            sender=(sender, form.shop.name), to=[(customer, ctx["customer"]["name"])], reply_to=reply_to,
            subject=subject, body=body,
            message_id=make_msgid(f"form.{form.slug}.{submission.id}.{token}.ack", domain),
            # RFC 3834: an automatic reply, so vacation responders do not answer it.
            headers={"Auto-Submitted": "auto-replied", "X-Mallbridge-Shop": form.shop.code,
                     "X-Mallbridge-Form": form.slug})))
    return mails
