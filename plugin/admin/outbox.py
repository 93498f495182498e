"""Admin console: send history of the outbox, with requeue / discard / release actions."""
from flask import flash, redirect, render_template, request, url_for

from plugin import audit
from plugin.admin import ActionForm, bp, menu_entry, page_arg
from plugin.errors import error_response
from plugin.extensions import db
from plugin.outbox import STATE_LABELS, STATES, OutboxMessage, history, options, store
from plugin.outbox.models import OUTCOME_LABELS


@bp.route("/outbox")
def outbox():
    """All outgoing mail, newest first, filterable by state."""
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        return error_response(400, "状態の指定が正しくありません。")
    page = history.page_of(state, page_arg())
    return render_template("admin/outbox.html", page=page, state=state, counts=history.counts(),
                           labels=STATE_LABELS, form=ActionForm(), sandbox=options.sandbox_address())


@bp.route("/outbox/<int:oid>")
def outbox_detail(oid):
    """One message: headers, body preview, recipients and every attempt."""
    row = db.session.get(OutboxMessage, oid)
    if row is None:
        return error_response(404, "メールが見つかりません。")
    return render_template("admin/outbox_detail.html", row=row, preview=history.preview(row.raw),
                           attempts=history.attempts(row), labels=STATE_LABELS,
                           outcome_labels=OUTCOME_LABELS, form=ActionForm())


_ACTIONS = {
    "requeue": (store.requeue, "再送に回しました。", "この状態のメールは再送できません。"),
    "discard": (store.discard, "破棄しました。", "この状態のメールは破棄できません。"),
    "release": (lambda oid: store.release([oid]) == 1, "送信を承認しました。", "保留中のメールではありません。"),
}


@bp.route("/outbox/<int:oid>/<action>", methods=["POST"])
def outbox_action(oid, action):
    """Requeue, discard or release one message."""
    if action not in _ACTIONS:
        return error_response(404)
    if db.session.get(OutboxMessage, oid) is None:
        return error_response(404, "メールが見つかりません。")
    func, ok_text, bad_text = _ACTIONS[action]
    if func(oid):
        audit.record(f"outbox.{action}", query={"id": oid}, commit=False)
        db.session.commit()
        flash(ok_text)
    else:
        db.session.rollback()
        flash(bad_text)
    return redirect(url_for("admin.outbox_detail", oid=oid))


@bp.route("/outbox/release-all", methods=["POST"])
def outbox_release_all():
    """Release every staged message."""
    count = store.release(None)
    audit.record("outbox.release_all", result_count=count, commit=False)
    db.session.commit()
    flash(f"保留中のメール {count} 件の送信を承認しました。")
    return redirect(url_for("admin.outbox", state="staged"))


menu_entry("admin.outbox", "送信履歴")
