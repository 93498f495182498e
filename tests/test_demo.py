"""`mallbridge demo seed`: the sample shop a newcomer sees after `make run`."""
import random
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from lookups.models import Member, MemberEmail, Order
from plugin.demo import data as demo_data
from plugin.demo import seed as demo
from plugin.extensions import db
from plugin.models import Shop, User
from tests.conftest import Auth


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def seeded(app, runner):
    """The demo data, seeded through the CLI; yields the command's output."""
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    return result.output


def _login(client, role):
    r = Auth(client).login(f"{role}@example.jp", demo.DEFAULT_PASSWORDS[role])
    assert r.status_code == 302, r.get_data(as_text=True)


def _relay_order():
    return db.session.scalar(select(Order).where(Order.mall == "rakuten", Order.customer_code.is_not(None))
                             .order_by(Order.id).limit(1))


def test_seed_creates_a_believable_shop_with_three_channels(seeded):
    """Seeding renames the default shop and adds ~300 members and ~600 orders from own/Rakuten/Yahoo!."""
    shop = db.session.scalar(select(Shop).where(Shop.code == "default"))
    assert shop.name == "お茶の山田園 本店" and shop.phone and shop.email
    buyers, their_orders = demo.inquiry_customers()
    assert _count(Member) == demo.MEMBER_COUNT + len(buyers) and _count(Order) == demo.ORDER_COUNT + len(their_orders)
    malls = dict(db.session.execute(select(Order.mall, func.count()).group_by(Order.mall)).all())
    assert set(malls) == {"own", "rakuten", "yahoo"} and min(malls.values()) > 50
    numbers = db.session.scalars(select(Order.order_number).where(Order.mall == "rakuten")).all()
    assert all(len(n.split("-")) == 3 and len(n.split("-")[2]) == 10 for n in numbers)
    emails = db.session.scalars(select(Order.email).where(Order.mall == "rakuten")).all()
    assert all(e.endswith("@pc.fw.rakuten.ne.jp") for e in emails)
    inquiry_orders = {o["order_number"] for o in their_orders}  # named by the fake mall's sample inquiries
    assert all(n.startswith("yamadaen-") or n in inquiry_orders for n in db.session.scalars(
        select(Order.order_number).where(Order.mall == "yahoo")))


def test_seed_prints_logins_and_sample_lookup_urls(seeded):
    """The summary names both demo logins with their passwords and sample lookup URLs."""
    assert "admin@example.jp  admin-demo-pass" in seeded
    assert "agent@example.jp  agent-demo-pass" in seeded
    assert "/lookup/members?email=" in seeded and "pc.fw.rakuten.ne.jp" in seeded


def test_seed_twice_adds_nothing(seeded, runner):
    """A second run finds every row by its key and duplicates none."""
    before = (_count(Member), _count(MemberEmail), _count(Order), _count(User))
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "(0 new)" in result.output
    assert (_count(Member), _count(MemberEmail), _count(Order), _count(User)) == before


def test_generated_data_is_deterministic():
    """The same seed yields the same members and orders on every machine."""
    def build():
        rng = random.Random(demo.RANDOM_SEED)
        members = demo.build_members(rng)
        return members, demo.build_orders(rng, members)

    assert build() == build()


def test_seed_contains_families_multi_contact_members_and_tricky_text(seeded):
    """Some members share an e-mail, some have several e-mails or phones, some carry markup."""
    shared = db.session.execute(select(MemberEmail.email_norm).group_by(MemberEmail.email_norm)
                                .having(func.count() > 1)).all()
    assert len(shared) >= 5
    members = db.session.scalars(select(Member)).all()
    assert any(len(m.emails) > 1 for m in members) and any(len(m.phones) > 1 for m in members)
    assert any("<script>" in (m.note or "") for m in members)


def test_demo_logins_work_with_their_roles(seeded, client):
    """The printed admin password opens the admin console; the agent is refused there."""
    _login(client, "admin")
    assert client.get("/admin/").status_code == 200
    client.get("/logout")
    _login(client, "agent")
    assert client.get("/admin/").status_code == 403


def test_agent_finds_rakuten_masked_address_in_orders_and_members(seeded, client):
    """A masked Rakuten relay address finds the Rakuten order and the member who placed it."""
    order = _relay_order()
    _login(client, "agent")
    r = client.get(f"/lookup/orders?email={quote(order.email)}&format=json")
    assert r.status_code == 200
    found = r.get_json()["orders"]
    assert order.order_number in [o["order_number"] for o in found]
    # The member's orders from the other channels come along: the agent sees the whole customer.
    assert {o["customer_code"] for o in found} == {order.customer_code}
    r = client.get(f"/lookup/members?email={quote(order.email.upper())}&format=json")
    assert [m["customer_code"] for m in r.get_json()["members"]] == [order.customer_code]


def test_readme_sample_address_lists_the_whole_family(seeded, client):
    """README's sample address (佐藤 花子) is shared by a family, and the lookup lists each member."""
    _login(client, "agent")
    r = client.get(f"/lookup/members?email={quote(demo_data.README_EMAIL)}&format=json")
    found = r.get_json()["members"]
    assert len(found) == 2 and found[0]["name"] == "佐藤 花子"
    assert all(demo_data.README_EMAIL in m["emails"] for m in found)


def test_tricky_demo_text_is_shown_escaped(seeded, client):
    """The member with a <script> note is shown as text, never as markup."""
    _login(client, "agent")
    page = client.get("/lookup/members?customer_code=100008").get_data(as_text=True)
    assert "ジョー" in page
    assert '<script>alert("xss")</script>' not in page and "&lt;script&gt;" in page


def test_seed_refuses_outside_demo_mode_unless_forced(app, runner):
    """Without MALLBRIDGE_DEMO (or testing) the command refuses; --force seeds anyway."""
    app.config["TESTING"] = False
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 2 and "MALLBRIDGE_DEMO=1" in result.output
    assert _count(Member) == 0
    result = runner.invoke(args=["demo", "seed", "--force"])
    assert result.exit_code == 0, result.output
    assert _count(Member) == demo.MEMBER_COUNT + len(demo.inquiry_customers()[0])


def test_custom_passwords_are_used_and_short_ones_refused(app, runner, client):
    """--agent-password sets the agent's password; fewer than 8 characters is an error."""
    result = runner.invoke(args=["demo", "seed", "--agent-password", "short"])
    assert result.exit_code == 2 and "--agent-password" in result.output
    result = runner.invoke(args=["demo", "seed", "--agent-password", "another-pass-9"])
    assert result.exit_code == 0 and "another-pass-9" in result.output
    assert Auth(client).login("agent@example.jp", "another-pass-9").status_code == 302


def test_seed_makes_the_demo_helpdesk_environment_complete_and_active(app):
    """demo seed fills the demo helpdesk environment and makes it the active one."""
    from plugin import helpdesk

    result = demo.seed()
    assert result["helpdesk"].name == "demo" and result["helpdesk"].complete
    assert helpdesk.active_name() == "demo"
