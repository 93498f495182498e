"""Admin console: per-shop mail templates with a live preview (JSON for the inline script,
a preview button for browsers without JavaScript)."""
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from plugin import audit, mail_templates
from plugin.admin import bp, menu_entry
from plugin.extensions import db
from plugin.forms import service
from plugin.models import Shop

# What each placeholder holds, for the table on the edit page.
PLACEHOLDER_LABELS = {
    "shop.name": "店舗名", "shop.code": "店舗コード", "shop.phone": "店舗の電話番号", "shop.email": "店舗のメールアドレス",
    "staff.name": "担当者名", "staff.email": "担当者のメールアドレス",
    "customer.name": "お客様の名前", "customer.email": "お客様のメールアドレス", "customer.tel": "お客様の電話番号",
    "order.number": "受注番号", "form.title": "フォーム名", "form.slug": "フォームのURLの末尾", "form.url": "フォームのURL",
    "inquiry.id": "受付番号", "inquiry.message": "お問い合わせ内容", "inquiry.text": "入力内容の一覧",
    "inquiry.submitted_at": "受付日時", "inquiry.type": "問い合わせの種類", "inquiry.title": "問い合わせの件名",
    "inquiry.item_name": "商品名", "mall.label": "モールの表示名（【】の中）", "mall.name": "モール名",
}


def _placeholder_rows():
    """[(placeholder, what it holds, its bracket aliases)] in declaration order."""
    aliases = {}
    for alias, target in mail_templates.ALIASES.items():
        aliases.setdefault(target, []).append(f"[{alias}]")
    return [(f"{ns}.{attr}", PLACEHOLDER_LABELS.get(f"{ns}.{attr}", ""), aliases.get(f"{ns}.{attr}", []))
            for ns, attrs in mail_templates.PLACEHOLDERS.items() for attr in attrs]


def _shop_or_404(code):
    return service.shop_by_code(code) or abort(404)


def _preview(shop, subject, body):
    """(rendered subject, rendered body, errors) with sample values and the real shop."""
    errors = mail_templates.check(subject, "件名")
    errors += mail_templates.check(body, "本文")
    if errors:
        return None, None, errors
    ctx = mail_templates.sample_context(shop, current_user)
    return (" ".join(mail_templates.render_text(subject, ctx).split()),
            mail_templates.render_text(body, ctx), [])


@bp.route("/mail-templates")
def mail_template_list():
    """Every kind for every shop: its own template or the built-in default."""
    shops = db.session.scalars(select(Shop).order_by(Shop.code)).all()
    saved = {(t.shop_id, t.kind): t for t in db.session.scalars(select(mail_templates.MailTemplate))}
    return render_template("admin/mail_templates.html", shops=shops, kinds=mail_templates.KINDS, saved=saved)


def _edit_page(shop, kind, subject, body, errors=(), preview=None, status=200, action="save"):
    return render_template(
        "admin/mail_template_edit.html", shop=shop, kind=kind, spec=mail_templates.KINDS[kind], subject=subject,
        body=body, errors=list(errors), preview=preview, placeholders=_placeholder_rows(), action=action,
        custom=mail_templates.find(shop.id, kind) is not None), status


@bp.route("/mail-templates/<shop_code>/<kind>", methods=["GET", "POST"])
def mail_template_edit(shop_code, kind):
    """Edit one template: save (validated), preview, or go back to the built-in default."""
    shop = _shop_or_404(shop_code)
    if kind not in mail_templates.KINDS:
        abort(404)
    if request.method == "GET":
        subject, body = mail_templates.source(shop.id, kind)
        return _edit_page(shop, kind, subject, body)
    action = request.form.get("action", "save")
    subject, body = request.form.get("subject", ""), request.form.get("body", "")
    if action == "reset":
        row = mail_templates.find(shop.id, kind)
        if row is not None:
            db.session.delete(row)
            audit.record("mail_template.reset", {"shop": shop.code, "kind": kind}, commit=False)
            db.session.commit()
        flash("標準のテンプレートに戻しました。")
        return redirect(url_for("admin.mail_template_edit", shop_code=shop.code, kind=kind))
    if action == "preview":
        rsubject, rbody, errors = _preview(shop, subject, body)
        preview = None if errors else {"subject": rsubject, "body": rbody}
        return _edit_page(shop, kind, subject, body, errors, preview, 422 if errors else 200, action="preview")
    try:
        mail_templates.save(shop.id, kind, subject, body, actor=current_user.email)
    except mail_templates.TemplateError as exc:
        db.session.rollback()
        return _edit_page(shop, kind, subject, body, exc.messages, status=400)
    audit.record("mail_template.save", {"shop": shop.code, "kind": kind}, commit=False)
    db.session.commit()
    flash("テンプレートを保存しました。")
    return redirect(url_for("admin.mail_template_edit", shop_code=shop.code, kind=kind))


@bp.route("/mail-templates/<shop_code>/<kind>/preview", methods=["POST"])
def mail_template_preview(shop_code, kind):
    """The live preview: rendered subject and body as JSON, or the problems (422)."""
    shop = _shop_or_404(shop_code)
    if kind not in mail_templates.KINDS:
        abort(404)
    data = request.get_json(silent=True) if request.is_json else request.form
    if not hasattr(data, "get"):
        return jsonify({"errors": ["JSONの形式が正しくありません。"]}), 400
    subject, body = str(data.get("subject") or ""), str(data.get("body") or "")
    rsubject, rbody, errors = _preview(shop, subject, body if mail_templates.KINDS[kind].has_body else "")
    if errors:
        return jsonify({"errors": errors}), 422
    return jsonify({"subject": rsubject, "body": rbody})


menu_entry("admin.mail_template_list", "メールテンプレート")
