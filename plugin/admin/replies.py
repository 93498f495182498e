"""Admin console: replies received by smtp-in, their problems, and the queue of mall writes."""
from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from plugin import audit
from plugin.admin import ActionForm, bp, menu_entry, page_arg
from plugin.errors import error_response
from plugin.extensions import db
from sync.replies import claims
from sync.replies import queue as reply_queue
from sync.replies.models import JOB_STATE_LABELS, JOB_STATES, MAIL_STATE_LABELS, MAIL_STATES, ReplyJob, ReplyMail

PAGE = 50


@bp.route("/replies")
def replies():
    """Received replies newest first (filter by state), and the mall-write jobs that need attention."""
    state = request.args.get("state") or None
    if state is not None and state not in MAIL_STATES:
        return error_response(400, "状態の指定が正しくありません。")
    page = page_arg()
    query = select(ReplyMail).order_by(ReplyMail.id.desc())
    if state:
        query = query.where(ReplyMail.state == state)
    mails = list(db.session.scalars(query.offset((page - 1) * PAGE).limit(PAGE)))
    counts = dict(db.session.execute(select(ReplyMail.state, func.count(ReplyMail.id)).group_by(ReplyMail.state)).all())
    jobs = list(db.session.scalars(select(ReplyJob).where(ReplyJob.state != "posted")
                                   .order_by(ReplyJob.id.desc()).limit(PAGE)))
    job_counts = dict(db.session.execute(select(ReplyJob.state, func.count(ReplyJob.id)).group_by(ReplyJob.state)).all())
    return render_template("admin/replies.html", mails=mails, state=state, counts=counts, page=page,
                           labels=MAIL_STATE_LABELS, jobs=jobs, job_counts=job_counts, job_labels=JOB_STATE_LABELS,
                           job_states=JOB_STATES, form=ActionForm(), more=len(mails) == PAGE)


@bp.route("/replies/<int:mail_id>")
def reply_detail(mail_id):
    """One received reply: sender, recipient, the text as parsed, the problem and its jobs."""
    mail = db.session.get(ReplyMail, mail_id)
    if mail is None:
        return error_response(404, "返信メールが見つかりません。")
    jobs = list(db.session.scalars(select(ReplyJob).where(ReplyJob.reply_mail_id == mail_id).order_by(ReplyJob.id)))
    head = mail.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("utf-8", "replace")[:8000]
    return render_template("admin/reply_detail.html", mail=mail, jobs=jobs, head=head, form=ActionForm(),
                           labels=MAIL_STATE_LABELS)


_MAIL_ACTIONS = {
    "requeue": (claims.requeue, "再処理に回しました。次の同期（sync run）で取り込みます。",
                "この返信は再処理できません（処理中か、すでに処理済みです）。"),
    "discard": (claims.discard, "破棄しました。モールには送りません。",
                "この返信は破棄できません（処理中か、すでに処理済みです）。"),
}


@bp.route("/replies/<int:mail_id>/<action>", methods=["POST"])
def reply_mail_action(mail_id, action):
    """Requeue (a fresh set of attempts for the sweep) or discard a quarantined or unprocessed mail.
    Requeue never runs intake in the web process: a mail that broke it must not break the console."""
    if action not in _MAIL_ACTIONS:
        return error_response(404)
    if db.session.get(ReplyMail, mail_id) is None:
        return error_response(404, "返信メールが見つかりません。")
    func_, ok_text, bad_text = _MAIL_ACTIONS[action]
    if func_(mail_id):
        audit.record(f"replies.mail_{action}", query={"id": mail_id}, commit=False)
        db.session.commit()
        flash(ok_text)
    else:
        db.session.rollback()
        flash(bad_text)
    return redirect(url_for("admin.reply_detail", mail_id=mail_id))


_ACTIONS = {
    "requeue": (reply_queue.requeue, "再送に回しました。", "この状態の処理は再送できません。"),
    "discard": (reply_queue.discard, "破棄しました。", "この状態の処理は破棄できません。"),
}


@bp.route("/replies/jobs/<int:job_id>/<action>", methods=["POST"])
def reply_job_action(job_id, action):
    """Requeue or discard one mall-write job."""
    if action not in _ACTIONS:
        return error_response(404)
    job = db.session.get(ReplyJob, job_id)
    if job is None:
        return error_response(404, "処理が見つかりません。")
    back = (url_for("admin.reply_detail", mail_id=job.reply_mail_id) if job.reply_mail_id
            else url_for("admin.replies"))
    func_, ok_text, bad_text = _ACTIONS[action]
    if func_(job_id):
        audit.record(f"replies.{action}", query={"job": job_id}, commit=False)
        db.session.commit()
        flash(ok_text)
    else:
        db.session.rollback()
        flash(bad_text)
    return redirect(back)


menu_entry("admin.replies", "モールへの返信")
