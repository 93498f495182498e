"""The signed completion link in delivered mails: login, confirm page, Yahoo! reason and warnings."""
import re

from sqlalchemy import select

from plugin.extensions import db
from sync.fake_mall import world
from sync.models import MallAccount, MallInquiry
from sync.replies import complete
from sync.replies import queue as reply_queue
from sync.replies.models import ReplyJob
from tests.conftest import csrf_token
from tests.sync.helpers import add, deliver_rakuten, yahoo_account


def _link_of(mail):
    text = mail.get_body(("plain",)).get_content()
    match = re.search(r"この問い合わせを完了にする: (\S+)", text)
    assert match, text
    return match.group(1)


def _path(url):
    return re.sub(r"^https?://[^/]+", "", url)


def test_delivered_mail_carries_the_link_and_it_needs_login(sync_app, mall, client, auth):
    """The mail has the signed link; without login it redirects to the login page and back."""
    _account, mail, _number = deliver_rakuten(mall)
    path = _path(_link_of(mail))
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login(next_url=path)
    page = client.get(path)
    assert page.status_code == 200 and "楽天 R-Messe でこの問い合わせを「完了」にします" in page.get_data(as_text=True)


def test_rakuten_complete_is_queued_then_posted(sync_app, mall, client, auth, runner):
    """Confirming queues a completion job; `sync run` completes the inquiry on R-Messe; the page then says so."""
    _account, mail, number = deliver_rakuten(mall)
    path = _path(_link_of(mail))
    auth.login()
    token = csrf_token(client.get(path).get_data(as_text=True))
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code == 302
    (job,) = db.session.scalars(select(ReplyJob)).all()
    assert (job.kind, job.state, job.actor) == ("complete", "queued", "agent@example.jp")
    runner.invoke(args=["sync", "run", "--once"])
    with mall.state.lock:
        assert mall.state.inquiries[number]["_completed"] is not None
    assert "完了になりました" in client.get(path).get_data(as_text=True)
    again = client.post(path, data={"csrf_token": token})
    assert again.status_code == 400 and "すでに完了" in again.get_data(as_text=True)


def test_altered_link_is_404_in_japanese(sync_app, mall, client, auth):
    """A token with a changed character is refused with a Japanese 404, never a 500."""
    _account, mail, _number = deliver_rakuten(mall)
    path = _path(_link_of(mail))
    auth.login()
    bad = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    response = client.get(bad)
    assert response.status_code == 404 and "リンクが正しくありません" in response.get_data(as_text=True)


def test_missing_csrf_is_a_clear_400(sync_app, mall, client, auth):
    """A POST without the form token says to reload the page and queues nothing."""
    _account, mail, _number = deliver_rakuten(mall)
    auth.login()
    response = client.post(_path(_link_of(mail)), data={})
    assert response.status_code == 400 and "読み込み直して" in response.get_data(as_text=True)
    assert db.session.scalars(select(ReplyJob)).all() == []


def test_yahoo_page_has_reasons_and_warning_and_reason_1_needs_a_reply(sync_app, mall, client, auth, runner):
    """Yahoo!: the page offers reasons 1–5, notes reason 1 needs an API reply, warns it cannot be reopened;
    reason 1 without a reply is refused by the mall and shown as failed; reason 5 works."""
    topic = add(mall, world.add_topic, {"title": "在庫について", "body": "在庫ありますか"})
    account = yahoo_account()
    account = db.session.get(MallAccount, account.id)
    db.session.add(MallInquiry(account_id=account.id, inquiry_id=topic["topicId"], subject="在庫について"))
    db.session.commit()
    path = _path(complete.link(account.id, topic["topicId"]))
    auth.login()
    html = client.get(path).get_data(as_text=True)
    assert "完了にした質問を元に戻す（再開する）ことはできません" in html
    assert "メッセージ投稿API" in html and 'value="5"' in html
    token = csrf_token(html)
    assert client.post(path, data={"csrf_token": token}).status_code == 400  # no reason chosen
    client.post(path, data={"csrf_token": token, "reason": "1"})
    runner.invoke(args=["sync", "run", "--once"])
    (job,) = db.session.scalars(select(ReplyJob)).all()
    db.session.refresh(job)
    assert job.state == "dead" and job.last_error
    assert "前回の完了処理は失敗しました" in client.get(path).get_data(as_text=True)
    client.post(path, data={"csrf_token": token, "reason": "5"})
    runner.invoke(args=["sync", "run", "--once"])
    with mall.state.lock:
        assert mall.state.topics[topic["topicId"]]["completeConditionId"] == 5
    assert reply_queue.open_job(account.id, topic["topicId"], "complete").state == "posted"
