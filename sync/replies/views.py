"""`/complete/<token>`: the confirm page behind "この問い合わせを完了にする" (staff login required)."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from plugin import audit
from plugin.errors import error_response
from plugin.extensions import db
from sync import malls
from sync.replies import complete

bp = Blueprint("complete", __name__)


class ConfirmForm(FlaskForm):
    """Only the CSRF token; the Yahoo! reason is read from the form directly."""


def _page(account, inquiry, inquiry_id, value, status=200, error=None):
    return render_template("replies/complete.html", account=account, inquiry=inquiry, inquiry_id=inquiry_id,
                           token=value, mall_label=malls.label(account.mall), error=error,
                           state=complete.status(account, inquiry_id), form=ConfirmForm(),
                           chosen=request.form.get("reason")), status


@bp.route("/complete/<token>", methods=["GET"])
@login_required
def confirm(token):
    """What will be completed, the Yahoo! reason choice and its warnings."""
    try:
        account, inquiry, inquiry_id = complete.lookup(token)
    except complete.CompleteError as exc:
        return error_response(404, str(exc))
    return _page(account, inquiry, inquiry_id, token)


@bp.route("/complete/<token>", methods=["POST"])
@login_required
def submit(token):
    """Queue the completion; `sync run` posts it to the mall."""
    try:
        account, inquiry, inquiry_id = complete.lookup(token)
    except complete.CompleteError as exc:
        return error_response(404, str(exc))
    if not ConfirmForm().validate_on_submit():
        return _page(account, inquiry, inquiry_id, token, 400,
                     "フォームの有効期限が切れました。ページを読み込み直してからもう一度押してください。")
    try:
        job = complete.request(account, inquiry_id, request.form.get("reason"), actor=current_user.email)
    except complete.CompleteError as exc:
        db.session.rollback()
        return _page(account, inquiry, inquiry_id, token, 400, str(exc))
    audit.record("inquiry.complete", query={"account": account.id, "inquiry": inquiry_id, "reason": job.reason},
                 commit=False)
    db.session.commit()
    flash("完了の依頼を受け付けました。まもなくモールに反映されます。")
    return redirect(url_for("complete.confirm", token=token))
