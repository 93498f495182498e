"""`mallbridge import members|orders FILE`: encodings, Japanese headers, upserts and bad-row reports."""
import datetime as dt

import pytest
from sqlalchemy import func, select, text

from lookups import importer, records, upsert
from lookups.models import Member, MemberEmail, Order
from plugin.extensions import db
from tests import factories

MEMBERS_JA = (
    "会員番号,氏名,フリガナ,メールアドレス,電話番号,郵便番号,住所,会員登録日,備考\r\n"
    "M0001,山田 太郎,ヤマダ タロウ,taro@example.jp;Taro.Work@Example.com,090-1234-5678,100-0001,東京都千代田区千代田1-1,2024/05/01 12:34,髙橋様ご紹介～\r\n"
    "M0002,佐藤 花子,サトウ ハナコ,hanako@example.jp,03-1234-5678,530-0001,大阪府大阪市北区梅田1-1,2024-05-02,\r\n"
)


def write(tmp_path, text, encoding="utf-8", name="data.csv"):
    """Write `text` in `encoding` and return the path as a string."""
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def run(runner, kind, path, *extra):
    """Invoke `mallbridge import KIND PATH`."""
    return runner.invoke(args=["import", kind, path, *extra])


def count(model):
    """Rows in a table."""
    return db.session.scalar(select(func.count()).select_from(model))


def member(code):
    """The member with that customer code in the default shop."""
    db.session.expire_all()
    return db.session.scalar(select(Member).where(Member.customer_code == code))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_japanese_headers_in_every_supported_encoding(app, runner, tmp_path, encoding):
    """UTF-8, UTF-8 with BOM and CP932 files with Japanese headers import the same members."""
    r = run(runner, "members", write(tmp_path, MEMBERS_JA, encoding))
    assert r.exit_code == 0, r.output
    assert "2 inserted, 0 updated, 0 failed" in r.output
    taro = member("M0001")
    assert taro.name == "山田 太郎" and taro.name_kana == "ヤマダ タロウ"
    assert [e.email for e in taro.emails] == ["taro@example.jp", "Taro.Work@Example.com"]
    assert [e.email_norm for e in taro.emails] == ["taro@example.jp", "taro.work@example.com"]
    assert [(p.tel, p.tel_norm) for p in taro.phones] == [("090-1234-5678", "09012345678")]
    assert taro.note == "髙橋様ご紹介～"
    # 12:34 JST is stored as 03:34 UTC.
    assert taro.registered_at == dt.datetime(2024, 5, 1, 3, 34)
    assert member("M0002").registered_at == dt.datetime(2024, 5, 1, 15, 0)


def test_imported_member_is_found_by_the_helpdesk_lookup(client, auth, runner, tmp_path):
    """After an import, /lookup/members finds the member by any of its e-mails and by phone."""
    run(runner, "members", write(tmp_path, MEMBERS_JA, "cp932"))
    auth.login()
    r = client.get("/lookup/members?email=TARO.WORK@example.com", headers={"Accept": "application/json"})
    assert [m["customer_code"] for m in r.get_json()["members"]] == ["M0001"]
    r = client.get("/lookup/members?tel=0312345678", headers={"Accept": "application/json"})
    assert [m["customer_code"] for m in r.get_json()["members"]] == ["M0002"]


def _analysed_row_counts(tables):
    """Row counts the query planner knows per table (None: never analysed)."""
    if db.engine.dialect.name == "postgresql":
        rows = db.session.execute(text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:t)"),
                                  {"t": list(tables)})
        return {name: None if count < 0 else int(count) for name, count in rows}
    if not db.session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")):
        return dict.fromkeys(tables)
    rows = db.session.execute(text("SELECT tbl, stat FROM sqlite_stat1"))
    known = {name: int(stat.split()[0]) for name, stat in rows if name in tables}
    return {name: known.get(name) for name in tables}


@pytest.mark.parametrize("kind, text_, tables, counts", [
    ("members", MEMBERS_JA, ("member", "member_email", "member_phone"), (2, 3, 2)),
    ("orders", "order_number,customer_code,items\n1,M0001,a:茶:1:100|b:茶:1:200\n2,M0001,\n",
     ("shop_order", "order_item"), (2, 2)),
])
def test_import_refreshes_planner_statistics_of_the_tables_it_wrote(app, runner, tmp_path, kind, text_, tables,
                                                                    counts):
    """Right after an import the planner knows the new row counts (ANALYZE), so lookups seek, not scan."""
    r = run(runner, kind, write(tmp_path, text_))
    assert r.exit_code == 0, r.output
    db.session.commit()
    assert _analysed_row_counts(tables) == dict(zip(tables, counts))


def test_second_import_updates_and_replaces_emails_but_keeps_absent_columns(app, runner, tmp_path):
    """Upsert by customer code: named columns are overwritten, e-mails replaced, other columns kept."""
    run(runner, "members", write(tmp_path, MEMBERS_JA))
    r = run(runner, "members", write(tmp_path, "customer_code,name,email\nM0001,山田 太郎2,new@example.jp\nM0003,新規,\n",
                                     name="update.csv"))
    assert r.exit_code == 0, r.output
    assert "1 inserted, 1 updated, 0 failed" in r.output
    taro = member("M0001")
    assert taro.name == "山田 太郎2" and [e.email for e in taro.emails] == ["new@example.jp"]
    assert taro.address == "東京都千代田区千代田1-1" and taro.phones[0].tel == "090-1234-5678"
    assert count(Member) == 3 and count(MemberEmail) == 2


def test_bad_rows_are_reported_with_line_and_reason_while_good_rows_are_imported(app, runner, tmp_path):
    """Each bad row is named by its line and column; the good rows around it still land (exit 1)."""
    text = ("会員番号,氏名,メールアドレス,会員登録日\n"
            "M1,良い,ok@example.jp,2024/05/01\n"
            ",名無し,x@example.jp,\n"
            "M3,悪いメール,not-an-email,\n"
            "M4,悪い日付,,2024/02/30\n"
            '"M5","住所に\n改行",m5@example.jp,\n'
            "M6,多すぎ,,,余分\n"
            "M7,良い2,ok7@example.jp,\n")
    r = run(runner, "members", write(tmp_path, text))
    assert r.exit_code == 1
    assert "3 inserted, 0 updated, 4 failed" in r.output
    assert "line 3: 会員番号: 必須です" in r.output
    assert "line 4 [M3]: メールアドレス: メールアドレスの形式が正しくありません: not-an-email" in r.output
    assert "line 5 [M4]: 会員登録日: 存在しない日時です" in r.output
    # The quoted newline makes row M5 two lines long, so M6 starts on line 8.
    assert "line 8 [M6]: 列の数が多すぎます" in r.output
    assert {m.customer_code for m in db.session.scalars(select(Member))} == {"M1", "M5", "M7"}
    # A name is one line (it ends up in mail headers); the quoted newline becomes a space.
    assert member("M5").name == "住所に 改行"


def test_unknown_columns_refuse_the_whole_file(app, runner, tmp_path):
    """A column we do not know: nothing is written, the report lists it, exit 2."""
    r = run(runner, "members", write(tmp_path, "会員番号,氏名,ポイント残高,誕生月\nM1,山田,100,5\n"))
    assert r.exit_code == 2
    assert "不明な列があります: ポイント残高, 誕生月" in r.output
    assert count(Member) == 0


def test_missing_key_column_and_duplicate_columns_are_refused(app, runner, tmp_path):
    """Without customer_code, or with two headers for the same field, the file is refused."""
    r = run(runner, "members", write(tmp_path, "氏名,メールアドレス\n山田,a@example.jp\n"))
    assert r.exit_code == 2 and "必須の列 customer_code がありません" in r.output
    r = run(runner, "members", write(tmp_path, "会員番号,顧客番号\nM1,M1\n"))
    assert r.exit_code == 2 and "同じ項目 customer_code" in r.output
    assert count(Member) == 0


@pytest.mark.parametrize("payload", [
    "会員番号,氏名\nM1,山田\n".encode("utf-16"),
    b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe\x80\x81\x82",
    b"",
])
def test_unreadable_files_are_refused(app, runner, tmp_path, payload):
    """UTF-16, binary (an .xlsx) or empty files are refused with a reason, never a traceback."""
    path = tmp_path / "bad.csv"
    path.write_bytes(payload)
    r = run(runner, "members", str(path))
    assert r.exit_code == 2
    assert "ファイルを取り込みませんでした" in r.output and "Traceback" not in r.output
    assert count(Member) == 0


def test_encoding_is_decided_by_the_first_non_ascii_bytes_even_after_64kb(app, runner, tmp_path):
    """A long ASCII-only start does not make a CP932 file pass as UTF-8."""
    rows = "".join(f"A{i:05d},Name {i}\n" for i in range(5000))
    r = run(runner, "members", write(tmp_path, "customer_code,name\n" + rows + "J1,日本語の名前\n", "cp932"))
    assert r.exit_code == 0, r.output
    assert member("J1").name == "日本語の名前"


def test_a_line_that_does_not_decode_is_reported_and_the_rest_imported(app, runner, tmp_path):
    """One CP932 line inside a UTF-8 file fails alone, with its line number."""
    path = tmp_path / "mixed.csv"
    path.write_bytes("会員番号,氏名\nM1,山田\n".encode() + "M2,佐藤\n".encode("cp932") + "M3,鈴木\n".encode())
    r = run(runner, "members", str(path))
    assert r.exit_code == 1
    assert "line 3 [M2]: UTF-8 として読めない文字があります" in r.output
    assert {m.customer_code for m in db.session.scalars(select(Member))} == {"M1", "M3"}


def test_orders_with_items_totals_malls_and_dates(app, runner, tmp_path):
    """Order columns: yen spellings, item lists, mall labels, JST dates; items replaced on update."""
    text = ("受注番号,モール,顧客番号,氏名,メールアドレス,電話番号,注文日時,受注ステータス,合計金額,商品,配送先氏名,配送先住所,伝票番号\n"
            '1001,楽天,M0001,山田 太郎,taro@example.jp,090-1234-5678,2024/05/01 09:00,発送済み,"￥1,980",'
            '"tea-100:有機緑茶 100g:1:1,980",山田 花子,東京都,1234-5678-9012\n'
            "1002,yahoo,,鈴木,suzuki@example.jp,,2024-05-02 10:00:30,新規,1980円,a:A:1:2000|coupon:値引き:1:-20,,,\n"
            "1003,amazon,,x,,,,,-5,a:b,,,\n")
    r = run(runner, "orders", write(tmp_path, text, "cp932"))
    assert r.exit_code == 1
    assert "2 inserted, 0 updated, 1 failed" in r.output
    assert "モール: モールは own / rakuten / yahoo のいずれかです" in r.output
    assert "合計金額: 金額に負の値は使えません" in r.output and "商品: 1件目の商品は" in r.output
    order = db.session.scalar(select(Order).where(Order.order_number == "1001"))
    assert (order.mall, order.total, order.email_norm, order.tel_norm) == ("rakuten", 1980, "taro@example.jp", "09012345678")
    assert order.ordered_at == dt.datetime(2024, 5, 1, 0, 0)
    assert [(i.sku, i.name, i.quantity, i.price) for i in order.items] == [("tea-100", "有機緑茶 100g", 1, 1980)]
    second = db.session.scalar(select(Order).where(Order.order_number == "1002"))
    assert [i.price for i in second.items] == [2000, -20] and second.customer_code is None
    run(runner, "orders", write(tmp_path, "order_number,items\n1001,b:新商品:3:500\n", name="upd.csv"))
    db.session.expire_all()
    assert [(i.sku, i.quantity) for i in order.items] == [("b", 3)] and order.total == 1980


def test_imported_order_is_found_through_its_members_email(client, auth, runner, tmp_path):
    """An order linked by customer code shows up when the helpdesk searches the member's e-mail."""
    run(runner, "members", write(tmp_path, MEMBERS_JA, name="m.csv"))
    run(runner, "orders", write(tmp_path, "order_number,customer_code,total\nR-1,M0001,500\n", name="o.csv"))
    auth.login()
    r = client.get("/lookup/orders?email=taro.work@example.com", headers={"Accept": "application/json"})
    assert [o["order_number"] for o in r.get_json()["orders"]] == ["R-1"]


def test_batches_repeated_keys_and_shops(app, tmp_path):
    """Across small batches: a repeated key is an update, shop codes resolve, unknown shops fail."""
    factories.make_shop("tea")
    text = "shop,customer_code,name\n,A,1\ntea,A,2\n,A,3\nnope,B,4\ntea,C,5\n"
    with open(write(tmp_path, text), "rb") as f:
        report = importer.import_csv("members", f, batch_size=2)
    assert (report.inserted, report.updated, report.failed) == (3, 1, 1)
    assert report.errors[0].line == 5 and "「nope」の店舗はありません" in report.errors[0].errors["shop"]
    names = {(m.shop.code, m.customer_code): m.name for m in db.session.scalars(select(Member))}
    assert names == {("default", "A"): "3", ("tea", "A"): "2", ("tea", "C"): "5"}


def test_report_file_lists_every_bad_row_as_csv_with_bom(app, runner, tmp_path):
    """--report writes line, key, column and reason, readable by Excel (UTF-8 with BOM)."""
    report = tmp_path / "report.csv"
    run(runner, "members", write(tmp_path, "会員番号,メールアドレス\nM1,bad\nM2,ok@example.jp\n"), "--report", str(report))
    data = report.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == "line,key,column,error"
    assert lines[1].startswith("2,M1,メールアドレス,メールアドレスの形式が正しくありません")


def test_shop_option_and_tab_separated_files(app, runner, tmp_path):
    """--shop sets the shop of rows without one; a tab-separated export is read as such."""
    factories.make_shop("tea")
    r = run(runner, "members", write(tmp_path, "会員番号\t氏名\nT1\t田中\n"), "--shop", "tea")
    assert r.exit_code == 0, r.output
    assert member("T1").shop.code == "tea"
    r = run(runner, "members", write(tmp_path, "会員番号\t氏名\nT1\t田中\n"), "--shop", "nope")
    assert r.exit_code == 2 and "「nope」の店舗がありません" in r.output


def test_script_tags_and_quotes_are_stored_verbatim_and_shown_escaped(client, auth, runner, tmp_path):
    """Markup in an imported field is plain text on the member page."""
    text = 'customer_code,name,note\nX1,"<script>alert(""x"")</script>","O\'Reilly & ""Co"""\n'
    run(runner, "members", write(tmp_path, text))
    m = member("X1")
    assert m.name == '<script>alert("x")</script>'
    auth.login()
    page = client.get(f"/members/{m.id}").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(" in page


@pytest.mark.parametrize("text, expected", [
    ("2024-05-01", dt.datetime(2024, 4, 30, 15, 0)),
    ("2024/05/01", dt.datetime(2024, 4, 30, 15, 0)),
    ("2024/5/1 9:05", dt.datetime(2024, 5, 1, 0, 5)),
    ("2024/05/01 12:34:56", dt.datetime(2024, 5, 1, 3, 34, 56)),
    ("2024-05-01 12:34", dt.datetime(2024, 5, 1, 3, 34)),
    ("2024-05-01T12:34:56+09:00", dt.datetime(2024, 5, 1, 3, 34, 56)),
    ("2024-05-01T03:34:56Z", dt.datetime(2024, 5, 1, 3, 34, 56)),
    ("２０２４年５月１日", dt.datetime(2024, 4, 30, 15, 0)),
])
def test_date_spellings_are_jst_and_stored_as_utc(text, expected):
    """Every accepted date spelling; times without an offset are Japan time."""
    assert records.parse_datetime(text) == expected


@pytest.mark.parametrize("text", ["2024/02/30", "05/01/2024", "昨日", "2024-05-01 25:00", "0001-01-01"])
def test_bad_dates_are_refused_with_a_reason(text):
    """Impossible or foreign date spellings are errors, not guesses."""
    with pytest.raises(records.Invalid):
        records.parse_datetime(text)


@pytest.mark.parametrize("text, expected", [
    ("1980", 1980), ("1,980", 1980), ("¥1,980", 1980), ("￥1,980", 1980), ("\\1,980", 1980),
    ("1980円", 1980), (" 1,980 円", 1980), ("１９８０", 1980), (0, 0), (1980, 1980),
])
def test_yen_spellings(text, expected):
    """Totals as shop systems write them are whole yen."""
    assert records.parse_yen(text) == expected


@pytest.mark.parametrize("text", ["-1", "-¥500", "1980.5", "abc", "", "1e3", "12345678901234567", 1.5, True])
def test_bad_totals_are_refused(text):
    """Negative, fractional, non-numeric or absurd totals are errors."""
    with pytest.raises(records.Invalid):
        records.parse_yen(text)


def test_a_batch_the_database_refuses_is_retried_row_by_row(app, tmp_path, monkeypatch):
    """If the database refuses a batch, the good rows still land and only the guilty row fails whole."""
    from sqlalchemy.exc import IntegrityError

    real_write = upsert._write

    def picky_write(kind, rows, shops):
        outcome = real_write(kind, rows, shops)
        db.session.flush()
        if any(values["customer_code"] == "BAD" for _, values in rows):
            raise IntegrityError("INSERT …", {}, Exception("refused"))
        return outcome

    monkeypatch.setattr(upsert, "_write", picky_write)
    text = "customer_code,email\nA,a@example.jp\nBAD,bad@example.jp\nC,c@example.jp\n"
    with open(write(tmp_path, text), "rb") as f:
        report = importer.import_csv("members", f)
    assert (report.inserted, report.failed) == (2, 1)
    assert report.errors[0].line == 3 and "データベースに保存できませんでした" in report.errors[0].errors[""]
    assert {m.customer_code for m in db.session.scalars(select(Member))} == {"A", "C"}
    assert {e.email for e in db.session.scalars(select(MemberEmail))} == {"a@example.jp", "c@example.jp"}


def test_cli_import_is_audit_logged(app, runner, tmp_path):
    """Every CLI import leaves an audit row with the file name and the counts."""
    from plugin.models import AuditLog

    run(runner, "members", write(tmp_path, "customer_code\nA\n", name="kaiin.csv"))
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "import.members"))
    assert row.actor == "cli" and row.params == {"file": "kaiin.csv"} and row.result_count == 1
    assert row.detail.startswith("done inserted=1")


def test_reimporting_identical_rows_rewrites_nothing(app, runner, tmp_path):
    """A nightly re-import of the same list leaves identical members, e-mails and phones untouched."""
    path = write(tmp_path, MEMBERS_JA)
    run(runner, "members", path)
    before = {m.customer_code: (m.updated_at, [e.id for e in m.emails], [p.id for p in m.phones])
              for m in db.session.scalars(select(Member))}
    db.session.remove()
    r = run(runner, "members", path)
    assert r.exit_code == 0, r.output
    assert "0 inserted, 2 updated, 0 failed, 2 of the updated unchanged" in r.output
    assert "更新のうち変更なし 2 件" in r.output
    after = {m.customer_code: (m.updated_at, [e.id for e in m.emails], [p.id for p in m.phones])
             for m in db.session.scalars(select(Member))}
    assert after == before


def test_reimport_rewrites_only_rows_that_changed(app, runner, tmp_path):
    """One changed e-mail list, one changed name, one changed item list: exactly those rows are rewritten."""
    run(runner, "members", write(tmp_path, MEMBERS_JA))
    taro_ids = [e.id for e in member("M0001").emails]
    hanako_updated = member("M0002").updated_at
    db.session.remove()
    changed = MEMBERS_JA.replace("Taro.Work@Example.com", "taro.home@example.jp")
    r = run(runner, "members", write(tmp_path, changed, name="changed.csv"))
    assert "1 of the updated unchanged" in r.output
    taro = member("M0001")
    assert [e.email for e in taro.emails] == ["taro@example.jp", "taro.home@example.jp"]
    assert [e.id for e in taro.emails] != taro_ids
    assert member("M0002").updated_at == hanako_updated
    db.session.remove()

    orders = "order_number,customer_code,items\n1,M0001,a:茶:1:100|b:菓子:2:200\n2,M0002,c:器:1:3000\n"
    run(runner, "orders", write(tmp_path, orders, name="o.csv"))
    r = run(runner, "orders", write(tmp_path, orders.replace("b:菓子:2:200", "b:菓子:3:200"), name="o2.csv"))
    assert "0 inserted, 2 updated, 0 failed, 1 of the updated unchanged" in r.output
    first = db.session.scalar(select(Order).where(Order.order_number == "1"))
    assert [(i.sku, i.quantity) for i in first.items] == [("a", 1), ("b", 3)]
    r = run(runner, "orders", write(tmp_path, "order_number,items\n1,a:茶:1:100\n", name="o3.csv"))
    assert "0 of the updated unchanged" in r.output
    db.session.remove()
    assert [i.sku for i in db.session.scalar(select(Order).where(Order.order_number == "1")).items] == ["a"]
