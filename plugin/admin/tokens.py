"""Admin console: API tokens for /api/v1/* (create — shown once — list, revoke)."""
from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from plugin import audit, clock
from plugin.admin import ActionForm, bp, menu_entry
from plugin.errors import error_response
from plugin.extensions import db
from plugin.models import ApiToken


class TokenForm(FlaskForm):
    name = StringField("用途（例: 自社サイトの受注連携）", filters=[lambda v: v.strip() if v else v],
                       validators=[DataRequired("用途を入力してください。"),
                                   Length(max=100, message="用途は100文字以内にしてください。")])


def _list_page(form, status=200):
    tokens = db.session.scalars(select(ApiToken).order_by(ApiToken.revoked_at.is_not(None),
                                                          ApiToken.created_at.desc(), ApiToken.id.desc())).all()
    return render_template("admin/tokens.html", form=form, tokens=tokens,
                           revoke_form=ActionForm(formdata=None)), status


@bp.route("/tokens")
def tokens():
    """Every API token: name, prefix, created, last used, revoked."""
    return _list_page(TokenForm(formdata=None))


@bp.route("/tokens", methods=["POST"])
def token_create():
    """Issue a token and show it on this response only (it is stored hashed)."""
    form = TokenForm()
    if not form.validate():
        return _list_page(form, 400)
    row, plain = ApiToken.issue(form.name.data)
    db.session.add(row)
    db.session.flush()
    audit.record("token.create", {"name": row.name, "prefix": row.prefix}, commit=False)
    db.session.commit()
    page = render_template("admin/tokens_created.html", token=row, plain=plain)
    # Shown once: the browser must not keep a copy in its cache or history snapshots.
    return page, 200, {"Cache-Control": "no-store"}


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def token_revoke(token_id):
    """Revoke a token: API calls with it are refused from now on."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        return error_response(404, "このAPIトークンは見つかりません。")
    if token.revoked_at is not None:
        flash(f"APIトークン「{token.name}」は既に失効しています。")
        return redirect(url_for("admin.tokens"))
    token.revoked_at = clock.now()
    audit.record("token.revoke", {"name": token.name, "prefix": token.prefix}, commit=False)
    db.session.commit()
    flash(f"APIトークン「{token.name}」を失効させました。このトークンでのAPI呼び出しは拒否されます。")
    return redirect(url_for("admin.tokens"))


menu_entry("admin.tokens", "APIトークン")
