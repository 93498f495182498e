"""Admin console: inquiry forms (list, create, edit) and their submissions."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from plugin import audit, helpdesk
from plugin.admin import bp, menu_entry, page_arg
from plugin.extensions import db
from plugin.forms import fields as form_fields
from plugin.forms import service
from plugin.forms.models import FormSubmission, InquiryForm
from plugin.invalid import InvalidInput
from plugin.models import Shop

PAGE_SIZE = 50


def _shops():
    return db.session.scalars(select(Shop).order_by(Shop.code)).all()


def _default_bcc():

    return helpdesk.active_forwarding_address()


@bp.route("/forms")
def forms():
    """Every form with its effective BCC, state and number of submissions."""
    rows = db.session.scalars(select(InquiryForm).order_by(InquiryForm.slug)).all()
    counts = dict(db.session.execute(
        select(FormSubmission.form_id, func.count(FormSubmission.id)).group_by(FormSubmission.form_id)).all())
    return render_template("admin/forms_list.html", rows=rows, counts=counts, effective_bcc=service.effective_bcc)


def _values_from(form):
    """The edit page's values from a stored form (or the defaults for a new one)."""
    if form is None:
        return {"slug": "", "shop": "default", "title": "お問い合わせ", "to": "", "bcc": "", "from_address": "",
                "origins": "", "ack_template": "form_ack", "enabled": True,
                "fields": form_fields.normalized_config(None)}
    return {"slug": form.slug, "shop": form.shop.code, "title": form.title, "to": form.to_addresses,
            "bcc": form.bcc_addresses or "", "from_address": form.from_address or "",
            "origins": form.allowed_origins or "", "ack_template": form.ack_template or "",
            "enabled": form.enabled, "fields": form_fields.normalized_config(form.fields)}


def _values_from_request():
    f = request.form
    fields = []
    for default in form_fields.DEFAULT_FIELDS:
        name = default["name"]
        fields.append({"name": name, "label": f.get(f"label_{name}", "").strip() or default["label"],
                       "enabled": f.get(f"enabled_{name}") == "1", "required": f.get(f"required_{name}") == "1"})
    return {"slug": f.get("slug", ""), "shop": f.get("shop", ""), "title": f.get("title", ""), "to": f.get("to", ""),
            "bcc": f.get("bcc", ""), "from_address": f.get("from_address", ""), "origins": f.get("origins", ""),
            "ack_template": f.get("ack_template", ""), "enabled": f.get("enabled") == "1",
            "fields": form_fields.normalized_config(fields)}


def _edit_page(form, values, errors, status=200):
    return render_template("admin/forms_edit.html", form=form, values=values, errors=errors, shops=_shops(),
                           ack_templates=service.ACK_TEMPLATES, default_bcc=_default_bcc(),
                           standard_labels={name: spec[0] for name, spec in form_fields.TYPES.items()}), status


def _save(form):
    values = _values_from_request()
    shop = service.shop_by_code(values["shop"])
    try:
        saved = service.save_form(
            form, slug=values["slug"], shop=shop, to=values["to"], bcc=values["bcc"], title=values["title"],
            from_address=values["from_address"], origins=values["origins"], ack_template=values["ack_template"],
            enabled=values["enabled"], fields=values["fields"])
    except InvalidInput as exc:
        db.session.rollback()
        return _edit_page(form, values, exc.errors, 400)
    db.session.flush()
    audit.record("form.save", {"slug": saved.slug, "to": saved.to_addresses, "bcc": saved.bcc_addresses},
                 commit=False)
    db.session.commit()
    flash(f"フォーム「{saved.slug}」を保存しました。")
    return redirect(url_for("admin.form_edit", form_id=saved.id))


@bp.route("/forms/new", methods=["GET", "POST"])
def form_new():
    """Create a form."""
    if request.method == "POST":
        return _save(None)
    return _edit_page(None, _values_from(None), {})


@bp.route("/forms/<int:form_id>", methods=["GET", "POST"])
def form_edit(form_id):
    """Edit a form; shows its public URL and embedding snippets."""
    form = db.session.get(InquiryForm, form_id) or abort(404)
    if request.method == "POST":
        return _save(form)
    return _edit_page(form, _values_from(form), {})


@bp.route("/forms/<int:form_id>/submissions")
def form_submissions(form_id):
    """Submissions of one form, newest first, paginated."""
    form = db.session.get(InquiryForm, form_id) or abort(404)
    page = page_arg()
    query = select(FormSubmission).where(FormSubmission.form_id == form.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(FormSubmission.id.desc())
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return render_template("admin/forms_submissions.html", form=form, rows=rows, page=page,
                           pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), total=total)


@bp.route("/forms/submissions/<int:submission_id>")
def form_submission(submission_id):
    """One submission: every value, attachments, the client and the mails it produced."""
    row = db.session.get(FormSubmission, submission_id) or abort(404)
    labels = {f["name"]: f["label"] for f in form_fields.normalized_config(row.form.fields)}
    outbox_link = "admin.outbox_detail" in {r.endpoint for r in _url_rules()}
    return render_template("admin/forms_submission.html", row=row, labels=labels, outbox_link=outbox_link)


def _url_rules():

    return current_app.url_map.iter_rules()


menu_entry("admin.forms", "問い合わせフォーム")
