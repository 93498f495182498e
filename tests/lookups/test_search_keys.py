"""Agent search by order number and by name (or reading): on the start page and as lookup parameters."""
import pytest
from sqlalchemy import text

from lookups import keys, params, search, statements
from plugin.extensions import db
from tests import factories
from tests.conftest import PG_URL


@pytest.fixture
def people(app):
    """Two members with orders, and a guest order without a member."""
    factories.make_member("M1", emails=("taro@example.jp",), name="山田 太郎", name_kana="ヤマダ タロウ")
    factories.make_member("M2", emails=("hanako@example.jp",), phones=("080-2222-3333",),
                          name="佐藤 花子", name_kana="サトウ ハナコ")
    factories.make_order("391234-20261128-0000001", customer_code="M1", mall="rakuten")
    factories.make_order("2002", customer_code="M2", email="hanako@example.jp", name="佐藤 花子")
    factories.make_order("3003", customer_code=None, email="guest@example.jp", name="ｽｽﾞｷ ｲﾁﾛｳ")


def _codes(client, kind, **query):
    r = client.get(f"/lookup/{kind}", query_string={**query, "format": "json"})
    assert r.status_code == 200, r.get_json()
    key = "customer_code" if kind == "members" else "order_number"
    return [x[key] for x in r.get_json()[kind]]


@pytest.mark.parametrize("number", ["391234-20261128-0000001", " ３９１２３４－２０２６１１２８－００００００１ "])
def test_order_number_finds_the_order_and_its_member(people, client, auth, number):
    """The order by its number (full-width digits and spaces as typed on the phone), and its member."""
    auth.login()
    assert _codes(client, "orders", order_number=number) == ["391234-20261128-0000001"]
    assert _codes(client, "members", order_number=number) == ["M1"]


def test_order_number_through_the_ebisumart_alias_and_shop_filter(people, client, auth):
    """The alias takes order_number too; another shop's number finds nothing."""
    auth.login()
    assert _codes(client, "members", order_number="2002", shop="default") == ["M2"]
    factories.make_shop("other", "別店舗")
    assert _codes(client, "orders", order_number="2002", shop="other") == []
    r = client.post("/default/admin_relation_order_search.html", data={"order_number": "2002"},
                    headers={"Accept": "application/json"})
    assert [o["order_number"] for o in r.get_json()["orders"]] == ["2002"]


@pytest.mark.parametrize("name,found", [
    ("山田", ["M1"]), ("山田太郎", ["M1"]), ("山田　太", ["M1"]), ("やまだ", ["M1"]), ("ﾔﾏﾀﾞ ﾀﾛｳ", ["M1"]),
    ("ヤマダ", ["M1"]), ("サトウ", ["M2"]), ("佐藤花子", ["M2"]), ("すずき", []), ("田中", []),
])
def test_name_or_reading_prefix_ignores_width_spaces_and_script(people, client, auth, name, found):
    """Name or kana, from its start, full-/half-width, hiragana/katakana and spaces ignored."""
    auth.login()
    assert _codes(client, "members", name=name) == found


def test_orders_by_the_buyer_name_include_guest_orders(people, client, auth):
    """An order lookup by name finds orders by their buyer name, also without a member."""
    auth.login()
    assert _codes(client, "orders", name="すずき") == ["3003"]
    assert _codes(client, "orders", name="サトウ") == ["2002"]


def test_name_search_shows_at_most_50(app, client, auth):
    """A common family name: the first 50 members, marked as cut."""
    for i in range(55):
        factories.make_member(f"K{i:03d}", emails=(f"k{i}@example.jp",), phones=(), name=f"鈴木 {i}",
                              name_kana="スズキ")
    auth.login()
    r = client.get("/lookup/members", query_string={"name": "鈴木", "format": "json"}).get_json()
    assert len(r["members"]) == 50 and r["truncated"] is True


def test_start_page_offers_order_number_and_name(client, auth):
    """The start page's search form has 受注番号 and 氏名 fields."""
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert 'name="order_number"' in page and 'name="name"' in page and "受注番号" in page


@pytest.mark.parametrize("query,label", [("name=", "氏名"), ("name=%E3%80%80", "氏名"), ("order_number=", "受注番号"),
                                         ("order_number=" + "9" * 65, "受注番号")])
def test_errors_name_the_field_in_japanese(client, auth, query, label):
    """Empty or overlong values: 400 naming the field in Japanese, not its English key."""
    auth.login()
    r = client.get(f"/lookup/members?{query}&format=json")
    assert r.status_code == 400 and label in r.get_json()["error"]["message"]
    assert "name が" not in r.get_json()["error"]["message"]


def _plan(conn, stmt, values):
    compiled = stmt.compile(dialect=conn.dialect)
    bound = compiled.construct_params(values)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET enable_seqscan = off"))  # a handful of rows: make the planner show its index choice
        sql = "EXPLAIN " + compiled.string
        return "\n".join(r[0] for r in conn.exec_driver_sql(sql, bound))
    sql = "EXPLAIN QUERY PLAN " + compiled.string
    return "\n".join(r[-1] for r in conn.exec_driver_sql(sql, tuple(bound[k] for k in compiled.positiontup)))


@pytest.mark.parametrize("kind", ["members", "orders"])
def test_name_search_seeks_an_index(people, kind):
    """The name seeks use the normalised-name indexes (a range / LIKE 'x%' on them), never a table scan."""
    q = params.validate({"name": "やまだ"})
    values = {"shop_id": None, "latest": 5, "order_limit": 51, "shown": 50, **keys.NAME.values(q)}
    build = statements.members if kind == "members" else statements.orders
    with search.connection(db.engine) as conn:
        plan = _plan(conn, build((keys.NAME,), False, conn.dialect.name, False), values)
    assert "ix_shop_order_name_norm" in plan
    if kind == "members":
        assert "ix_member_name_norm" in plan and "ix_member_kana_norm" in plan
    if not PG_URL:
        assert "SCAN member\n" not in plan + "\n" and "SCAN shop_order\n" not in plan + "\n"


def test_import_fills_the_name_columns(app, runner, tmp_path):
    """`import members` writes the normalised name and reading, so imported members are found by name."""
    csv = tmp_path / "members.csv"
    csv.write_text("会員番号,氏名,フリガナ,メールアドレス\nC1,高橋　一郎,ﾀｶﾊｼ ｲﾁﾛｳ,ichiro@example.jp\n", encoding="utf-8")
    assert runner.invoke(args=["import", "members", str(csv)]).exit_code == 0
    q = params.validate({"name": "たかはし"})
    with search.connection(db.engine) as conn:
        assert [m.customer_code for m in search.search(conn, "members", q).members] == ["C1"]
    q = params.validate({"name": "高橋一"})
    with search.connection(db.engine) as conn:
        assert [m.customer_code for m in search.search(conn, "members", q).members] == ["C1"]
