"""Routing: first matching rule wins; otherwise the active environment's forwarding address."""
import pytest

from plugin import helpdesk
from plugin.extensions import db
from plugin.invalid import InvalidInput
from sync import routing


def test_first_match_wins_and_default_applies(app):
    """Rules are tried in order; a message matching none goes to the forwarding address."""
    helpdesk.update_environment("production", {"forward_to": "inbox@example.jp"}, actor="t")
    routing.add_rule({"mall": "rakuten", "inquiry_type": "受注問い合わせ", "address": "orders@example.jp"})
    routing.add_rule({"keyword": "ＳＡＬＥ", "address": "sale@example.jp"})
    routing.add_rule({"mall": "rakuten", "address": "rakuten@example.jp"})
    db.session.commit()
    assert routing.route(routing.Probe(mall="rakuten", inquiry_type="受注問い合わせ", title="sale")).address == "orders@example.jp"
    assert routing.route(routing.Probe(mall="yahoo", body="big sale now")).address == "sale@example.jp"
    assert routing.route(routing.Probe(mall="rakuten", category="配送")).address == "rakuten@example.jp"
    decision = routing.route(routing.Probe(mall="yahoo", title="在庫"))
    assert decision.address == "inbox@example.jp" and decision.rule is None


def test_bad_rule_input_is_refused_in_japanese(app):
    """An invalid address or mall gives Japanese field errors and nothing is saved."""
    with pytest.raises(InvalidInput) as exc:
        routing.add_rule({"address": "not-an-address", "mall": "amazon"})
    assert set(exc.value.errors) == {"address", "mall"}
    assert routing.rules() == []


def test_admin_test_box_answers(client, auth, app):
    """The routing page's test box says which inbox a message would go to."""
    from tests.conftest import csrf_token

    auth.login("admin@example.jp", "admin-password-1")
    page = client.get("/admin/routing")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    resp = client.post("/admin/routing", data={"csrf_token": token, "address": "x@example.jp", "keyword": "返品"})
    assert resp.status_code == 302
    resp = client.post("/admin/routing/test", data={"csrf_token": token, "title": "返品したい"})
    assert "x@example.jp" in resp.get_data(as_text=True)
