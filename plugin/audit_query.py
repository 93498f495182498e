"""Filtering, paging and CSV rows of the audit log (no request objects: views pass plain dicts)."""
import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field

from sqlalchemy import Text, cast, func, or_, select

from plugin import audit_labels as labels
from plugin.clock import from_jst_naive, to_jst
from plugin.extensions import db
from plugin.models import AuditLog

PAGE_SIZE = 50
MAX_TEXT = 200
CSV_HEADER = ["日時（日本時間）", "ユーザー", "操作", "操作コード", "検索条件・対象", "件数", "IPアドレス", "詳細"]
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")
# Cells Excel would run as a formula; prefixed with ' (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


@dataclass
class AuditFilter:
    """What the admin asked for; `errors` maps a field name to a Japanese message."""

    user: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    text: str = ""
    errors: dict = field(default_factory=dict)
    upto_id: int | None = None  # set by snapshot(): rows written later are left out

    def as_dict(self):
        """The filter as plain values (for links and the audit row of an export)."""
        out = {"user": self.user, "text": self.text,
               "from": self.date_from.isoformat() if self.date_from else "",
               "to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in out.items() if v}


def action_label(action):
    """Japanese label of an action code (plugin.audit_labels), never the bare code."""
    return labels.action_label(action)


def _parse_date(raw):
    for fmt in _DATE_FORMATS:
        try:
            value = dt.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
        # Outside this range the JST→UTC shift would overflow datetime.
        return value if 1970 <= value.year <= 9998 else None
    return None


def parse_filter(args):
    """Read user / from / to / q from a mapping of strings; never raises."""
    f = AuditFilter(user=(args.get("user") or "").strip()[:254], text=(args.get("q") or "").strip())
    if len(f.text) > MAX_TEXT:
        f.errors["q"] = f"検索語は{MAX_TEXT}文字以内にしてください。"
    # PostgreSQL refuses NUL in a query parameter; no stored value holds control characters.
    for key, label, value in (("q", "検索語", f.text), ("user", "ユーザー", f.user)):
        if key not in f.errors and _CONTROL.search(value):
            f.errors[key] = f"{label}に使えない文字（制御文字）が含まれています。"
    for key, attr in (("from", "date_from"), ("to", "date_to")):
        raw = (args.get(key) or "").strip()
        if raw:
            value = _parse_date(raw)
            if value is None:
                f.errors[key] = "日付は 2026-11-23 の形式で入力してください。"
            setattr(f, attr, value)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        f.errors["to"] = "終了日は開始日と同じか、それより後の日付にしてください。"
    return f


def snapshot(f):
    """Bound `f` to the rows that exist now (an export then leaves out its own audit row)."""
    f.upto_id = db.session.scalar(select(func.max(AuditLog.id))) or 0
    return f


def _conditions(f):
    conds = []
    if f.upto_id is not None:
        conds.append(AuditLog.id <= f.upto_id)
    if f.user:
        # Staff e-mails are stored lower-cased; token actors ("token:Name") keep their case.
        conds.append(AuditLog.actor.in_({f.user, f.user.lower()}))
    if f.date_from:
        conds.append(AuditLog.at >= from_jst_naive(dt.datetime.combine(f.date_from, dt.time())))
    if f.date_to:
        end = dt.datetime.combine(f.date_to + dt.timedelta(days=1), dt.time())
        conds.append(AuditLog.at < from_jst_naive(end))
    if f.text:
        params = cast(AuditLog.params, Text)
        # JSON columns store non-ASCII as \uXXXX escapes, so also look for the escaped spelling.
        escaped = json.dumps(f.text)[1:-1]
        alts = [params.icontains(f.text, autoescape=True), AuditLog.action.icontains(f.text, autoescape=True),
                AuditLog.detail.icontains(f.text, autoescape=True)]
        if escaped != f.text:
            alts.append(params.icontains(escaped, autoescape=True))
        labelled = [code for code, label in labels.ACTION_LABELS.items() if f.text in label]
        if labelled:
            alts.append(AuditLog.action.in_(labelled))
        conds.append(or_(*alts))
    return conds


def select_rows(f):
    """SELECT of the matching rows, newest first."""
    return select(AuditLog).where(*_conditions(f)).order_by(AuditLog.at.desc(), AuditLog.id.desc())


def count_rows(f):
    """How many rows match."""
    return db.session.scalar(select(func.count()).select_from(AuditLog).where(*_conditions(f)))


def page(f, number):
    """(rows, total, page number, page count) for page `number` (clamped to the valid range)."""
    total = count_rows(f)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(max(1, number), pages)
    rows = db.session.scalars(select_rows(f).limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)).all()
    return rows, total, number, pages


def format_params(params):
    """A row's query as the CSV's code text: `email=taro@example.jp, shop=default` (the page shows
    audit_labels.format_params instead)."""
    if not params:
        return ""
    if isinstance(params, dict):
        return ", ".join(f"{k}={v}" for k, v in params.items())
    return json.dumps(params, ensure_ascii=False)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_row(row):
    """One audit row as CSV cells (JST time, labels, formula-safe text)."""
    at = to_jst(row.at)
    return [at.strftime("%Y-%m-%d %H:%M:%S") if at else "", _cell(row.actor), _cell(action_label(row.action)),
            _cell(row.action), _cell(format_params(row.params)), _cell(row.result_count), _cell(row.ip),
            _cell(row.detail)]


def csv_chunks(f, batch=500):
    """The filtered rows as UTF-8 CSV text chunks with a BOM first (so Excel reads UTF-8)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(CSV_HEADER)
    result = db.session.execute(select_rows(f).execution_options(yield_per=batch)).scalars()
    for i, row in enumerate(result, 1):
        writer.writerow(csv_row(row))
        if i % batch == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()

