"""Admin console: the audit log page (filters, paging) and its CSV export."""
import csv
import datetime as dt
import io
from urllib.parse import quote

import pytest
from sqlalchemy import select

from plugin import audit_query
from plugin.extensions import db
from plugin.models import AuditLog
from tests import factories


def _log(at, actor="agent@example.jp", action="lookup.members", params=None, count=1, detail=None):
    """An audit row at naive-UTC `at`."""
    row = AuditLog(at=at, actor=actor, action=action, params=params if params is not None else {"email": "x@example.jp"},
                   result_count=count, ip="127.0.0.1", detail=detail)
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def admin(auth):
    """The test client logged in as admin@example.jp."""
    auth.login("admin@example.jp", "admin-password-1")
    return auth


def _page(client, query=""):
    r = client.get("/admin/audit" + query)
    return r, r.get_data(as_text=True)


def _csv(client, query=""):
    r = client.get("/admin/audit.csv" + query)
    return r, list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))


@pytest.mark.parametrize("url", ["/admin/audit", "/admin/audit.csv"])
def test_agent_gets_403_on_audit_pages(client, auth, url):
    """Agents can neither read nor export the audit log."""
    auth.login()
    assert client.get(url).status_code == 403


def test_rows_are_newest_first_with_jst_times_and_labels(client, admin):
    """Rows are listed newest first, times in JST, actions with Japanese labels."""
    _log(dt.datetime(2026, 11, 20, 1, 0), params={"email": "old@example.jp"})
    _log(dt.datetime(2026, 11, 21, 1, 0), action="lookup.orders", params={"tel": "09012345678"})
    r, page = _page(client)
    assert r.status_code == 200
    assert page.index("09012345678") < page.index("old@example.jp")
    assert "2026/11/21 10:00:00" in page and "受注検索" in page and "会員検索" in page


def test_pages_of_fifty_keep_the_filter(client, admin):
    """120 rows make three pages; the pager links keep the filter; a page past the end shows the last."""
    for i in range(120):
        _log(dt.datetime(2026, 11, 1) + dt.timedelta(minutes=i), params={"customer_code": f"C{i:03d}"})
    _r, page = _page(client, "?q=C")
    assert "120件中 1〜50件目" in page and "C119" in page and "C069" not in page
    assert "page=2" in page and "q=C" in page
    _, page = _page(client, "?q=C&page=3")
    assert "101〜120件目" in page and "C000" in page
    _, page = _page(client, "?q=C&page=99")
    assert "101〜120件目" in page
    _, page = _page(client, "?page=abc")
    assert "1〜50件目" in page


def test_filter_by_user(client, admin):
    """Only the chosen user's rows are shown (case of the e-mail does not matter)."""
    _log(dt.datetime(2026, 11, 20), actor="agent@example.jp", params={"email": "mine@example.jp"})
    _log(dt.datetime(2026, 11, 20), actor="token:shop-site", params={"email": "theirs@example.jp"})
    _, page = _page(client, "?user=Agent@Example.jp")
    assert "mine@example.jp" in page and "theirs@example.jp" not in page
    _, page = _page(client, "?user=token:shop-site")
    assert "theirs@example.jp" in page and "mine@example.jp" not in page


def test_date_range_is_in_japan_time(client, admin):
    """from/to are whole JST days: 23:59 JST the day before and 00:00 JST the day after are outside."""
    _log(dt.datetime(2026, 11, 22, 14, 59), params={"email": "before@example.jp"})   # 11-22 23:59 JST
    _log(dt.datetime(2026, 11, 22, 15, 0), params={"email": "first@example.jp"})     # 11-23 00:00 JST
    _log(dt.datetime(2026, 11, 23, 14, 59), params={"email": "last@example.jp"})     # 11-23 23:59 JST
    _log(dt.datetime(2026, 11, 23, 15, 0), params={"email": "after@example.jp"})     # 11-24 00:00 JST
    _, page = _page(client, "?from=2026-11-23&to=2026-11-23")
    assert "first@example.jp" in page and "last@example.jp" in page
    assert "before@example.jp" not in page and "after@example.jp" not in page
    _, page = _page(client, "?from=2026/11/23")
    assert "after@example.jp" in page and "before@example.jp" not in page


@pytest.mark.parametrize("query, expected", [
    ("taro@example", {"taro"}),
    ("山田", {"kanji"}),
    ("会員検索", {"taro", "kanji", "pct"}),
    ("lookup.orders", {"order"}),
    ("50%", {"pct"}),
    ("t_ro", set()),
    ("order_number", {"order"}),
])
def test_free_text_searches_query_and_action(client, admin, query, expected):
    """Text matches the searched values (also non-ASCII), the action code or its label; % and _ are literal."""
    rows = {"taro": {"email": "taro@example.jp"}, "kanji": {"name": "山田 太郎"}, "pct": {"customer_code": "50%off"}}
    for key, params in rows.items():
        _log(dt.datetime(2026, 11, 20), params=params, detail=key + "-row")
    _log(dt.datetime(2026, 11, 20), action="lookup.orders", params={"order_number": "9"}, detail="order-row")
    _, page = _page(client, "?q=" + quote(query))
    found = {k for k in ("taro", "kanji", "pct", "order") if f"{k}-row" in page}
    assert found == expected


@pytest.mark.parametrize("query, field_message", [
    ("?from=2026-13-01", "日付は 2026-11-23 の形式で入力してください。"),
    ("?to=yesterday", "日付は 2026-11-23 の形式で入力してください。"),
    ("?from=0001-01-01", "日付は 2026-11-23 の形式で入力してください。"),
    ("?from=2026-11-24&to=2026-11-23", "終了日は開始日と同じか、それより後の日付にしてください。"),
    ("?q=" + "x" * 201, "検索語は200文字以内にしてください。"),
])
def test_bad_filter_values_are_explained_and_kept(client, admin, query, field_message):
    """A bad filter value: 400, a Japanese message next to the field, the typed values kept, no rows."""
    _log(dt.datetime(2026, 11, 20), params={"email": "row@example.jp"})
    r, page = _page(client, query + "&user=agent@example.jp")
    assert r.status_code == 400 and field_message in page
    assert 'value="agent@example.jp"' in page and "row@example.jp" not in page
    r = client.get("/admin/audit.csv" + query)
    assert r.status_code == 400 and field_message in r.get_data(as_text=True)


def test_csv_export_has_bom_japanese_headers_and_filtered_rows(client, admin):
    """The CSV is UTF-8 with BOM, has Japanese headers, JST times and only the filtered rows."""
    _log(dt.datetime(2026, 11, 20, 15, 30), params={"name": "山田 太郎", "shop": "default"}, count=2)
    _log(dt.datetime(2026, 11, 20, 15, 31), actor="other@example.jp")
    r = client.get("/admin/audit.csv?user=agent@example.jp")
    assert r.status_code == 200 and r.is_streamed
    assert r.mimetype == "text/csv" and r.mimetype_params["charset"] == "utf-8"
    assert "attachment" in r.headers["Content-Disposition"] and ".csv" in r.headers["Content-Disposition"]
    body = r.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == audit_query.CSV_HEADER and rows[0][0] == "日時（日本時間）"
    assert rows[1:] == [["2026-11-21 00:30:00", "agent@example.jp", "会員検索", "lookup.members",
                         "name=山田 太郎, shop=default", "2", "127.0.0.1", ""]]


def test_csv_export_is_logged_and_streams_many_rows(client, admin):
    """Exporting writes an audit row; a large log comes out complete in chunks."""
    for i in range(1203):
        db.session.add(AuditLog(at=dt.datetime(2026, 11, 1) + dt.timedelta(seconds=i), actor="a@example.jp",
                                action="lookup.members", params={"customer_code": f"C{i}"}))
    db.session.commit()
    _r, rows = _csv(client, "?user=a@example.jp")
    assert len(rows) == 1 + 1203 and rows[1][4] == "customer_code=C1202"
    export = db.session.scalars(select(AuditLog).where(AuditLog.action == "audit.export")).one()
    assert export.actor == "admin@example.jp" and export.params == {"user": "a@example.jp"}
    assert export.result_count == 1203


def test_csv_cells_cannot_become_excel_formulas(client, admin):
    """Values starting with = + - @ are prefixed with ' so Excel shows them as text."""
    _log(dt.datetime(2026, 11, 20), actor="=cmd@example.jp", params=None, detail="@SUM(A1)")
    _, rows = _csv(client, "?q=SUM")
    assert rows[1][1] == "'=cmd@example.jp" and rows[1][7] == "'@SUM(A1)"


def test_lookups_and_console_actions_appear_in_the_log(client, admin):
    """A real lookup and a console action both show up in the log page."""
    factories.make_member()
    client.get("/lookup/members?email=taro@example.jp")
    _, page = _page(client)
    assert "メールアドレス=taro@example.jp" in page and "会員検索" in page and "admin@example.jp" in page
    assert "lookup.members" not in page and "email=" not in page  # codes stay out of the page


def test_typed_dates_are_shown_back(client, admin):
    """An invalid date comes back as typed text; a valid slash date is shown in the date picker's format."""
    _, page = _page(client, "?from=2026-13-01&to=2026/11/30")
    assert 'type="text" name="from"' in page and 'value="2026-13-01"' in page
    assert 'type="date" name="to"' in page and 'value="2026-11-30"' in page


@pytest.mark.parametrize("query, field_message", [
    ("?q=a%00b", "検索語に使えない文字（制御文字）が含まれています。"),
    ("?user=a%00b", "ユーザーに使えない文字（制御文字）が含まれています。"),
])
def test_control_characters_in_filters_are_explained(client, admin, query, field_message):
    """NUL in the user or text filter is a 400 with a message (PostgreSQL refuses NUL), never a 500."""
    r, page = _page(client, query)
    assert r.status_code == 400 and field_message in page
    assert client.get("/admin/audit.csv" + query).status_code == 400
