"""The push pass against the fake helpdesk: what lands in the book, idempotence, order of work, resuming."""
import pytest
from sqlalchemy import select

from plugin.extensions import db
from plugin.helpdesk import push, send
from plugin.helpdesk import state as st
from plugin.helpdesk.models import PushedContact, PushState
from tests import factories
from tests.helpdesk.helpers import api_requests, book, emails, inquiry, rakuten_account, relay, run

MASK = "pc.fw.rakuten.ne.jp"


def _members(n, start=1):
    return [factories.make_member(f"{100000 + i}", emails=(f"m{i}@example.jp",), phones=(f"090-0000-{i:04d}",))
            for i in range(start, start + n)]


def test_members_land_in_the_book_once(push_app, fake_helpdesk):
    """A pass creates one contact per member; a second pass sends nothing at all."""
    _members(3)
    report = run()
    assert (report.status, report.created, report.refused) == ("done", 3, [])
    contacts = book(fake_helpdesk)
    assert set(contacts) == {"100001", "100002", "100003"}
    assert emails(contacts["100001"]) == (["m1@example.jp"], [])
    before = len(api_requests(fake_helpdesk))
    again = run()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 0)
    assert len(api_requests(fake_helpdesk)) == before


def test_a_changed_member_is_updated_in_place(push_app, fake_helpdesk, clock_pinned):
    """A member changed after the push is sent again (PUT by system_id1), not duplicated."""
    (member,) = _members(1)
    run()
    member.name = "山田 次郎"
    db.session.commit()
    clock_pinned.advance(seconds=31)
    report = run()
    assert report.updated == 1 and report.created == 0
    contacts = book(fake_helpdesk)
    assert len(contacts) == 1 and contacts["100001"]["first_name"] == "次郎"
    assert ("PUT", "/api/v2/customer_groups/1/customers/system_id1/100001") in api_requests(fake_helpdesk)


def test_a_contact_made_by_hand_with_the_same_email_is_taken_over(push_app, fake_helpdesk):
    """An agent already added the customer from a ticket: that contact is found by e-mail and updated."""
    with fake_helpdesk.state.lock:
        made = fake_helpdesk.state.create(1, {"last_name": "やまだ", "emails": [{"email": "m1@example.jp"}]})
    _members(1)
    report = run()
    assert report.updated == 1 and report.refused == []
    contacts = book(fake_helpdesk)
    assert list(contacts) == ["100001"] and contacts["100001"]["customer_id"] == made["customer_id"]
    assert contacts["100001"]["last_name"] == "山田"


def test_a_family_sharing_one_address(push_app, fake_helpdesk):
    """Two members with one e-mail: the second contact goes in without it (noted), and stays unchanged."""
    factories.make_member("F1", emails=("family@example.jp",), name="佐藤 一郎")
    factories.make_member("F2", emails=("family@example.jp", "hanako@example.jp"), name="佐藤 花子")
    report = run()
    assert report.created == 2 and report.refused == []
    contacts = book(fake_helpdesk)
    assert emails(contacts["F1"]) == (["family@example.jp"], [])
    assert emails(contacts["F2"]) == (["hanako@example.jp"], [])
    note = db.session.scalar(select(PushedContact.error).where(PushedContact.system_id1 == "F2"))
    assert "family@example.jp" in note
    assert run().sent == 0


def test_a_refused_contact_is_reported_and_the_others_go_on(push_app, fake_helpdesk):
    """A contact the helpdesk refuses (400) is reported with its message; the other members are pushed."""
    factories.make_member("A1", emails=("ok1@example.jp",))
    factories.make_member("A2", emails=("broken@@example",), name="壊れた アドレス")
    factories.make_member("A3", emails=("ok3@example.jp",))
    report = run()
    assert report.created == 2
    ((label, message),) = report.refused
    assert "A2" in label and "not a valid email" in message
    assert set(book(fake_helpdesk)) == {"A1", "A3"}
    row = db.session.scalar(select(PushedContact).where(PushedContact.system_id1 == "A2"))
    assert row.status == "refused"
    assert run().sent == 0 and run().refused == []  # not sent again until the member changes


def test_more_than_six_extra_addresses_keeps_the_newest_six(push_app, fake_helpdesk):
    """A member with 8 other addresses is pushed with 6 archived (the fake refuses 7)."""
    factories.make_member("E1", emails=tuple(f"e{i}@example.jp" for i in range(9)))
    assert run().created == 1
    main, archived = emails(book(fake_helpdesk)["E1"])
    assert main == ["e0@example.jp"] and archived == [f"e{i}@example.jp" for i in range(1, 7)]


def test_a_crash_after_sending_neither_loses_nor_doubles(push_app, fake_helpdesk, monkeypatch):
    """Killed after the helpdesk created a contact but before mallbridge noted it: the next pass finds it
    by system_id1 and updates it; every member ends up exactly once in the book."""
    monkeypatch.setattr(push, "THREADS", 1)  # one after another, as under the helpdesk's limit
    _members(4)
    original, sent = send.push, []

    def crash_on_the_third(api, book_id, contact, **kw):
        outcome = original(api, book_id, contact, **kw)
        sent.append(contact.system_id1)
        if len(sent) == 3:
            raise KeyboardInterrupt  # the process dies here
        return outcome
    monkeypatch.setattr(send, "push", crash_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        run()
    db.session.rollback()
    monkeypatch.setattr(send, "push", original)
    assert len(book(fake_helpdesk)) == 3
    report = run()
    # Nothing of the chunk was noted: the three created ones are found by system_id1 and updated,
    # the 4th (never sent) is created.
    assert (report.created, report.updated, report.refused) == (1, 3, [])
    assert sorted(book(fake_helpdesk)) == ["100001", "100002", "100003", "100004"]
    statuses = db.session.scalars(select(PushedContact.status)).all()
    assert statuses == ["ok"] * 4


def test_a_new_inquiry_goes_before_the_backlog(push_app, fake_helpdesk):
    """With the backlog untouched, the next chunk is the customer of the inquiry that just arrived."""
    _members(30)
    account = rakuten_account()
    st.load(push.targets.current().key)  # the push started before the inquiry came in
    asked = inquiry(account, "391234-20261120-7", name="新規 顧客", address=f"new@{MASK}")
    # The pass's clock stands still until something is in the book, then the budget is spent.
    report = run(budget=10.0, monotonic=lambda: 999.0 if book(fake_helpdesk) else 0.0)
    assert report.status == "more" and report.created == 1
    ((key, contact),) = book(fake_helpdesk).items()
    assert key == f"rakuten-{account.id}-{asked.customer}" and emails(contact) == ([relay(asked)], [f"new@{MASK}"])


def test_a_mall_customer_is_merged_into_its_member_later(push_app, fake_helpdesk, clock_pinned):
    """Pushed as a mall customer first; once its order ties it to a member, the member's contact takes
    the relay address and the mall-only contact is deleted."""
    account = rakuten_account()
    st.load(push.targets.current().key)
    asked = inquiry(account, "391234-20261120-8", name="楽天 花子", address=f"hana@{MASK}", order_number="R800")
    run()
    assert list(book(fake_helpdesk)) == [f"rakuten-{account.id}-{asked.customer}"]
    factories.make_member("H1", emails=("hana@example.jp",), name="楽天 花子")
    factories.make_order("R800", customer_code="H1", mall="rakuten", email=f"hana@{MASK}")
    clock_pinned.advance(seconds=31)
    report = run()
    assert report.refused == []
    contacts = book(fake_helpdesk)
    assert list(contacts) == ["H1"]
    assert relay(asked) in emails(contacts["H1"])[1]
    mall_row = db.session.scalar(select(PushedContact).where(PushedContact.subject.like("c:%")))
    assert mall_row.status == "superseded"


def test_inquiries_of_a_disabled_account_are_not_pushed(push_app, fake_helpdesk):
    """A mall customer known only from a disabled account's inquiry stays out of the book."""
    account = rakuten_account(enabled=False)
    inquiry(account, "391234-1", address=f"off@{MASK}")
    run()
    assert book(fake_helpdesk) == {}


def test_push_all_sends_everything_again(push_app, fake_helpdesk):
    """--all re-sends every contact, changed or not (updates, nothing created twice)."""
    _members(3)
    run()
    report = run(full=True)
    assert report.updated == 3 and report.created == 0 and len(book(fake_helpdesk)) == 3


def test_one_process_pushes_at_a_time(push_app, fake_helpdesk):
    """While another process holds the book's lease, a pass does nothing ("busy")."""
    _members(1)
    state = st.load(push.targets.current().key)
    assert st.take_lease(state, owner="other-host:1")
    assert run().status == "busy" and book(fake_helpdesk) == {}
    st.release_lease(state, owner="other-host:1")
    assert run().created == 1


def test_sweep_progress_counts_members_and_inquiries(push_app, fake_helpdesk):
    """The status's n / N covers members and mall inquiries; a finished sweep shows N / N."""
    from plugin.helpdesk import status

    _members(2)
    assert status.summary().progress_text == "0 / 2"
    run()
    summary = status.summary()
    assert summary.progress_text == "2 / 2" and summary.ok == 2 and summary.state_ja == "最新"
    assert db.session.scalar(select(PushState.sweep_done_at)) is not None
