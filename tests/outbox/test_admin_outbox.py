"""Send history in the admin console: list, filter, pages, detail, the POST actions and the release of
a staged backfill (dashboard card, confirmation, result)."""
import re
from email.message import EmailMessage

from plugin import outbox, settings
from plugin.extensions import db
from plugin.outbox import OutboxAttempt, OutboxMessage, history
from tests.conftest import csrf_token
from tests.outbox.conftest import make_mail


def _login_admin(auth):
    auth.login("admin@example.jp", "admin-password-1")


def test_agents_cannot_see_the_outbox(auth, client):
    """The history is admin-only: an agent gets 403."""
    auth.login()
    assert client.get("/admin/outbox").status_code == 403


def test_list_newest_first_with_japanese_states_and_filter(auth, client):
    """Rows are listed newest first with Japanese state labels; ?state= filters."""
    _login_admin(auth)
    old = outbox.enqueue(make_mail(subject="古いメール"))
    new = outbox.enqueue(make_mail(subject="新しいメール"), staged=True)
    db.session.commit()
    html = client.get("/admin/outbox").get_data(as_text=True)
    assert html.index("新しいメール") < html.index("古いメール")
    assert "保留中（承認待ち）" in html and "送信待ち" in html
    only_staged = client.get("/admin/outbox?state=staged").get_data(as_text=True)
    assert "新しいメール" in only_staged and "古いメール" not in only_staged
    assert client.get("/admin/outbox?state=bogus").status_code == 400
    assert old.id < new.id


def test_pagination_reaches_the_oldest_of_1200(auth, client):
    """1,200 messages are all reachable page by page; a page number past the end shows the last page."""
    _login_admin(auth)
    for i in range(1200):
        db.session.add(OutboxMessage(state="sent", kind="mail", message_id=f"<m{i}@t>", sender="s@example.jp",
                                     recipients=["a@example.jp"], subject=f"件名{i:04d}", raw=b"x",
                                     attempts=1, recoveries=0))
    db.session.commit()
    first = client.get("/admin/outbox").get_data(as_text=True)
    assert "件名1199" in first and "1 / 24 ページ" in first
    last = client.get("/admin/outbox?page=24").get_data(as_text=True)
    assert "件名0000" in last
    assert "件名0000" in client.get("/admin/outbox?page=999").get_data(as_text=True)
    assert client.get("/admin/outbox?page=abc").status_code == 200


def test_detail_shows_headers_body_and_attempts(auth, client):
    """The detail page decodes headers and body and lists every attempt with its error."""
    _login_admin(auth)
    msg = make_mail(body="ご注文の商品について\nお問い合わせです。")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="見積書.pdf")
    row = outbox.enqueue(msg)
    db.session.add(OutboxAttempt(outbox_id=row.id, outcome="temporary", code=451, text="4.7.1 greylisted"))
    db.session.commit()
    html = client.get(f"/admin/outbox/{row.id}").get_data(as_text=True)
    for text in ("【楽天】商品問い合わせ", "ご注文の商品について", "4.7.1 greylisted", "一時的なエラー",
                 "見積書.pdf", row.message_id.strip("<>")):
        assert text in html
    assert client.get("/admin/outbox/999999").status_code == 404


def test_detail_survives_a_malformed_message(auth, client):
    """A stored message that does not parse still shows its page."""
    _login_admin(auth)
    db.session.add(OutboxMessage(state="dead", kind="mail", message_id="<bad@t>", sender="s@example.jp",
                                 recipients=["a@example.jp"], raw=b"\xff\xfe garbage \x00", attempts=0, recoveries=0))
    db.session.commit()
    row = db.session.query(OutboxMessage).one()
    assert client.get(f"/admin/outbox/{row.id}").status_code == 200


def test_actions_need_csrf_and_change_state(auth, client):
    """Requeue, discard and release are POSTs with a CSRF token, audited, and refuse wrong states."""
    _login_admin(auth)
    row = outbox.enqueue(make_mail(), staged=True)
    db.session.commit()
    page = client.get(f"/admin/outbox/{row.id}").get_data(as_text=True)
    token = csrf_token(page)
    assert client.post(f"/admin/outbox/{row.id}/release").status_code == 400
    assert client.post(f"/admin/outbox/{row.id}/release", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(OutboxMessage, row.id).state == "queued"
    resp = client.post(f"/admin/outbox/{row.id}/requeue", data={"csrf_token": token}, follow_redirects=True)
    assert "この状態のメールは再送できません。" in resp.get_data(as_text=True)
    client.post(f"/admin/outbox/{row.id}/discard", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(OutboxMessage, row.id).state == "discarded"
    client.post(f"/admin/outbox/{row.id}/requeue", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(OutboxMessage, row.id).state == "queued"
    assert client.post(f"/admin/outbox/{row.id}/explode", data={"csrf_token": token}).status_code == 404
    assert client.post("/admin/outbox/999999/discard", data={"csrf_token": token}).status_code == 404


def test_release_all_staged(auth, client):
    """One button releases every staged message."""
    _login_admin(auth)
    for _ in range(3):
        outbox.enqueue(make_mail(), staged=True)
    db.session.commit()
    token = csrf_token(client.get("/admin/outbox").get_data(as_text=True))
    resp = client.post("/admin/outbox/release-all", data={"csrf_token": token}, follow_redirects=True)
    assert "3 件" in resp.get_data(as_text=True)
    assert db.session.query(OutboxMessage).filter_by(state="staged").count() == 0


def test_sandbox_banner_on_every_page(auth, client):
    """With a sandbox address set, every page warns that mail goes there instead."""
    settings.set_value("outbox.sandbox_address", "sandbox@example.jp")
    auth.login()
    assert "sandbox@example.jp に送られ" in client.get("/").get_data(as_text=True)
    settings.set_value("outbox.sandbox_address", None)
    assert "sandbox@example.jp" not in client.get("/").get_data(as_text=True)


def test_message_without_subject_is_listed(auth, client):
    """A message without Subject shows a placeholder instead of failing."""
    _login_admin(auth)
    msg = EmailMessage()
    msg["From"], msg["To"] = "shop@example.jp", "a@example.jp"
    msg.set_content("x")
    outbox.enqueue(msg)
    db.session.commit()
    assert "（件名なし）" in client.get("/admin/outbox").get_data(as_text=True)


def test_detail_shows_a_clean_success(auth, client, app, smtp_server, smtp_url):
    """A message sent on the first try shows one success line in its history."""
    from plugin.outbox.runner import Runner
    from plugin.smtp import SmtpConnection, parse_smtp_url

    _login_admin(auth)
    oid = outbox.enqueue(make_mail()).id
    db.session.commit()
    Runner(SmtpConnection(parse_smtp_url(smtp_url))).run(once=True)
    html = client.get(f"/admin/outbox/{oid}").get_data(as_text=True)
    assert "送信成功" in html and "まだ送信されていません" not in html


def test_dashboard_shows_the_staged_backfill_with_a_release_button(auth, client):
    """Staged mail is announced on the dashboard with its count and a button to the confirmation page."""
    _login_admin(auth)
    assert 'id="staged-backfill"' not in client.get("/admin/").get_data(as_text=True)
    for _ in range(3):
        outbox.enqueue(make_mail(), staged=True, kind="mall")
    db.session.commit()
    html = client.get("/admin/").get_data(as_text=True)
    assert re.search(r'id="staged-count">3件<', html)
    assert re.search(r'id="staged-release" href="/admin/outbox/release"', html)


def test_release_asks_first_then_shows_what_was_sent(auth, client, runner, smtp_sink):
    """The confirmation lists the staged mails; releasing sends only those shown, then a page follows them to 送信済み."""
    _login_admin(auth)
    shown = [outbox.enqueue(make_mail(subject=f"過去の問い合わせ{i}"), staged=True, kind="mall").id for i in range(3)]
    db.session.commit()
    confirm = client.get("/admin/outbox/release").get_data(as_text=True)
    assert "3 件を送信する" in confirm and all(f"過去の問い合わせ{i}" in confirm for i in range(3))
    later = outbox.enqueue(make_mail(subject="確認のあとに届いた"), staged=True, kind="mall").id
    db.session.commit()
    upto = re.search(r'name="upto" value="(\d+)"', confirm).group(1)
    resp = client.post("/admin/outbox/release-all", data={"csrf_token": csrf_token(confirm), "upto": upto})
    assert resp.status_code == 302 and "/admin/outbox/released?ids=" in resp.headers["Location"]
    db.session.expire_all()
    assert db.session.get(OutboxMessage, later).state == "staged"  # not shown, not released
    result = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "3 件の送信を承認しました" in result and re.search(r"送信待ち</span> 3 件", result)
    assert "確認のあとに届いた" not in result
    assert runner.invoke(args=["outbox", "run", "--once"]).exit_code == 0
    done = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert re.search(r"送信済み</span> 3 件", done) and "すべての処理が終わりました" in done
    assert len(smtp_sink.messages) == 3 and set(shown) == set(history.decode_ids(
        resp.headers["Location"].split("ids=")[1]))


def test_released_page_refuses_a_bad_id_list(auth, client):
    """Only a list like 3-40,42 is read; anything else is a 400 page, never a 500."""
    _login_admin(auth)
    for bad in ("abc", "5-1", "1-99999999", "", "1,,2"):
        assert client.get(f"/admin/outbox/released?ids={bad}").status_code == 400


def test_id_lists_round_trip_as_ranges():
    """Consecutive ids collapse into ranges and come back unchanged."""
    assert history.encode_ids([7, 3, 4, 5, 9, 10, 12]) == "3-5,7,9-10,12"
    assert history.decode_ids("3-5,7,9-10,12") == [3, 4, 5, 7, 9, 10, 12]
    assert history.encode_ids([]) == "" and history.decode_ids("x") is None
