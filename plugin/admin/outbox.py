"""Admin console: send history of the outbox, with requeue / discard / release actions."""
from flask import flash, redirect, render_template, request, url_for

from plugin import audit
from plugin.admin import ActionForm, bp, menu_entry, page_arg
from plugin.errors import error_response
from plugin.extensions import db
from plugin.outbox import STATE_LABELS, STATES, OutboxMessage, history, options, store
from plugin.outbox.models import OUTCOME_LABELS

# Longest id list (as "3-40,42") put into the link of the page that follows a release.
MAX_URL_IDS = 1500


@bp.route("/outbox")
def outbox():
    """All outgoing mail, newest first, filterable by state."""
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        return error_response(400, "状態の指定が正しくありません。")
    page = history.page_of(state, page_arg())
    return render_template("admin/outbox.html", page=page, state=state, counts=history.counts(),
                           labels=STATE_LABELS, form=ActionForm(), sandbox=options.sandbox_address(),
                           kind_label=history.kind_label, attempts_shown=history.attempts_shown)


@bp.route("/outbox/<int:oid>")
def outbox_detail(oid):
    """One message: headers, body preview, recipients and every attempt."""
    row = db.session.get(OutboxMessage, oid)
    if row is None:
        return error_response(404, "メールが見つかりません。")
    return render_template("admin/outbox_detail.html", row=row, preview=history.preview(row.raw),
                           attempts=history.attempts(row), labels=STATE_LABELS,
                           outcome_labels=OUTCOME_LABELS, form=ActionForm(), kind_label=history.kind_label,
                           attempts_shown=history.attempts_shown)


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
        flash(bad_text, "error")
    return redirect(url_for("admin.outbox_detail", oid=oid))


@bp.route("/outbox/release", methods=["GET"])
def outbox_release_confirm():
    """Ask before releasing the staged mail: how many, which ones, and what happens next."""
    ids = history.staged_ids()
    return render_template("admin/outbox_release.html", ids=ids, upto=ids[-1] if ids else None,
                           page=history.page_of("staged", page_arg()), labels=STATE_LABELS,
                           kind_label=history.kind_label)


@bp.route("/outbox/release-all", methods=["POST"])
def outbox_release_all():
    """Release the staged messages the admin saw (id <= upto), then show what became of them."""
    upto = request.form.get("upto", "")
    ids = history.staged_ids(int(upto) if upto.isdigit() else None)
    count = store.release(ids) if ids else 0
    audit.record("outbox.release_all", query={"upto": int(upto)} if upto.isdigit() else None, result_count=count,
                 commit=False)
    db.session.commit()
    if not count:
        flash("送信を承認できる保留中のメールはありませんでした。", "warning")
        return redirect(url_for("admin.outbox"))
    flash(f"保留中のメール {count} 件の送信を承認しました。送信の状況はこのページで確認できます。")
    encoded = history.encode_ids(ids)
    if len(encoded) > MAX_URL_IDS:  # scattered ids: the whole list would not fit in a link
        return redirect(url_for("admin.outbox", state="queued"))
    return redirect(url_for("admin.outbox_released", ids=encoded))


@bp.route("/outbox/released")
def outbox_released():
    """The mails of one release with their current state: what was sent, what still waits."""
    ids = history.decode_ids(request.args.get("ids"))
    if ids is None:
        return error_response(400, "表示するメールの指定が正しくありません。")
    counts = history.counts_of_ids(ids)
    waiting = sum(n for s, n in counts.items() if s in ("queued", "sending", "failed"))
    return render_template("admin/outbox_released.html", page=history.page_of_ids(ids, page_arg()),
                           counts=counts, waiting=waiting, labels=STATE_LABELS, ids=request.args.get("ids"),
                           kind_label=history.kind_label, attempts_shown=history.attempts_shown)


menu_entry("admin.outbox", "送信履歴")
