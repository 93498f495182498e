"""The lookup path's per-request shortcuts keep behaviour: token audit rows, reused statements."""
from plugin.extensions import db
from plugin.models import ApiToken, AuditLog
from plugin.tokens import create_token
from tests import factories


def test_token_lookup_writes_audit_row_with_token_actor_and_ip(app, client):
    """A Bearer lookup stores one audit row: token actor, no user, the query, the count and the IP."""
    factories.make_member()
    plain = create_token("helpdesk")
    res = client.get("/lookup/members?email=taro@example.jp", headers={"Authorization": f"Bearer {plain}",
                                                                       "Accept": "application/json"})
    assert res.status_code == 200 and len(res.get_json()["members"]) == 1
    db.session.expire_all()
    row = db.session.query(AuditLog).filter_by(action="lookup.members").one()
    assert (row.actor, row.user_id, row.params, row.result_count) == ("token:helpdesk", None,
                                                                       {"email": "taro@example.jp"}, 1)
    assert row.ip == "127.0.0.1" and row.at is not None


def test_token_use_is_recorded_and_revoked_token_refused(app, client, clock_pinned):
    """The token's last use is stamped; once revoked the next lookup is a 401."""
    plain = create_token("helpdesk")
    headers = {"Authorization": f"Bearer {plain}", "Accept": "application/json"}
    assert client.get("/lookup/members?email=a@example.jp", headers=headers).status_code == 200
    db.session.expire_all()
    token = db.session.query(ApiToken).one()
    assert token.last_used_at is not None
    token.revoked_at = token.last_used_at
    db.session.commit()
    assert client.get("/lookup/members?email=a@example.jp", headers=headers).status_code == 401


def _json(client, url):
    plain = create_token("t")
    res = client.get(url, headers={"Authorization": f"Bearer {plain}", "Accept": "application/json"})
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()


def test_reused_statements_take_each_lookups_own_values(app, client):
    """Cached statement shapes bind each request's values: codes across shops, shop filter, e-mail + tel."""
    tea = factories.make_shop()
    factories.make_member("C1", emails=("a@example.jp",), phones=("090-1111-1111",))
    factories.make_member("C1", emails=("b@example.jp",), phones=("090-2222-2222",), shop=tea)
    factories.make_order("9", customer_code="C1", email="b@example.jp", shop=tea)
    shops = lambda data: sorted(m["shop"] for m in data["members"])
    assert shops(_json(client, "/lookup/members?customer_code=C1")) == ["default", "tea"]
    assert shops(_json(client, "/lookup/members?customer_code=C1&shop=tea")) == ["tea"]
    assert shops(_json(client, "/lookup/members?email=a@example.jp&tel=090-2222-2222")) == ["default", "tea"]
    assert shops(_json(client, "/lookup/members?email=b@example.jp&shop=default")) == []
    member = _json(client, "/lookup/members?email=b@example.jp")["members"][0]
    assert [o["order_number"] for o in member["latest_orders"]] == ["9"]
    assert [o["order_number"] for o in _json(client, "/lookup/orders?email=b@example.jp&shop=tea")["orders"]] == ["9"]
