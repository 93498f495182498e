"""Admin console: the audit log (filter by user, JST dates and text; paged; CSV export)."""
from flask import Response, render_template, request, stream_with_context
from sqlalchemy import select

from plugin import audit, audit_labels, audit_query, clock
from plugin.admin import bp, menu_entry, page_arg
from plugin.extensions import db
from plugin.models import User


def _render(f, rows=(), total=0, number=1, pages=1, status=200):
    staff_emails = db.session.scalars(select(User.email).order_by(User.email)).all()
    # The typed values go back into the form and into the pager and CSV links unchanged.
    typed = {k: request.args.get(k, "") for k in ("user", "from", "to", "q")}
    return render_template("admin/audit.html", f=f, typed=typed, args={k: v for k, v in typed.items() if v}, rows=rows, total=total, number=number,
                           pages=pages, staff_emails=staff_emails, action_label=audit_labels.action_label,
                           format_params=audit_labels.format_params, actor_label=audit_labels.actor_label), status


@bp.route("/audit")
def audit_log():
    """Newest first, 50 a page; bad filter values are shown next to their field."""
    f = audit_query.parse_filter(request.args)
    if f.errors:
        return _render(f, status=400)
    rows, total, number, pages = audit_query.page(f, page_arg())
    return _render(f, rows, total, number, pages)


@bp.route("/audit.csv")
def audit_csv():
    """The filtered rows as a streamed CSV file (UTF-8 with BOM, Japanese headers)."""
    f = audit_query.parse_filter(request.args)
    if f.errors:
        return _render(f, status=400)
    # Exporting the log is itself logged (the file may leave the building), after fixing the rows
    # the file will hold, so the export neither lists itself nor grows while it streams.
    audit_query.snapshot(f)
    audit.record("audit.export", f.as_dict(), audit_query.count_rows(f))
    name = clock.to_jst(clock.now()).strftime("audit-log-%Y%m%d-%H%M%S.csv")
    return Response(stream_with_context(audit_query.csv_chunks(f)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


menu_entry("admin.audit_log", "監査ログ")
