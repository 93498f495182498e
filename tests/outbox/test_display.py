"""What shop staff read about a mail in `outbox list` and 管理 › 送信履歴: the subject exactly as
written (decoded once), and how many times mallbridge tried to send it."""
import re

from plugin import compose, outbox
from plugin.extensions import db
from plugin.outbox import OutboxMessage, history
from plugin.outbox.runner import Runner

LITERAL = "お問い合わせ =?utf-8?b?5Lu25ZCN?= について"


def _login_admin(auth):
    auth.login("admin@example.jp", "admin-password-1")


def _mail(subject):
    return compose.build_message(sender="shop@example.jp", to="customer@example.jp", subject=subject, body="本文")


def _admin_attempts(client, oid):
    listed = client.get("/admin/outbox").get_data(as_text=True)
    row = re.search(rf'href="/admin/outbox/{oid}".*?</tr>', listed, re.DOTALL).group(0)
    detail = client.get(f"/admin/outbox/{oid}").get_data(as_text=True)
    return (re.findall(r'<td class="num">(\d+)回</td>', row),
            re.search(r"<dt>送信試行</dt><dd>(\d+)回", detail).group(1))


def test_a_literal_encoded_word_in_a_subject_is_shown_as_typed(app, auth, client, runner):
    """A customer who typed `=?utf-8?b?…?=` sees it as typed in the CLI, the history and its detail page."""
    oid = outbox.enqueue(_mail(LITERAL)).id
    db.session.commit()
    assert db.session.get(OutboxMessage, oid).subject == LITERAL
    assert LITERAL in runner.invoke(args=["outbox", "list"]).output
    _login_admin(auth)
    assert LITERAL in client.get("/admin/outbox").get_data(as_text=True)
    assert LITERAL in client.get(f"/admin/outbox/{oid}").get_data(as_text=True)


def test_a_subject_encoded_by_another_program_is_decoded_once(app):
    """A message whose Subject arrives encoded (built outside plugin.compose) is stored decoded."""
    msg = _mail("x")
    msg.replace_header("Subject", "=?utf-8?b?5Lu25ZCN?=")
    assert outbox.enqueue(msg).subject == "件名"


def test_sent_mail_counts_the_try_that_sent_it(app, auth, client, runner, smtp_server, smtp_conn, clock_pinned):
    """Sent at the first try: 1 (not 0); after a greylisting: 2; failed once and waiting: 1 — in the
    CLI, the history list and the detail page alike."""
    first = outbox.enqueue(_mail("一度で送信")).id
    db.session.commit()
    Runner(smtp_conn).run(once=True)
    smtp_server.handler.data_replies.append("451 4.7.1 greylisted, try again")
    second = outbox.enqueue(_mail("再送で送信")).id
    db.session.commit()
    Runner(smtp_conn).run(once=True)
    failed = {int(line.split("\t")[0]): line.split("\t")[3]
              for line in runner.invoke(args=["outbox", "list"]).output.splitlines()}
    assert failed[second] == "1"
    clock_pinned.advance(minutes=1)
    Runner(smtp_conn).run(once=True)
    db.session.expire_all()
    assert [db.session.get(OutboxMessage, i).state for i in (first, second)] == ["sent", "sent"]
    shown = {int(line.split("\t")[0]): line.split("\t")[3]
             for line in runner.invoke(args=["outbox", "list"]).output.splitlines()}
    assert shown == {first: "1", second: "2"}
    _login_admin(auth)
    assert _admin_attempts(client, first) == (["1"], "1")
    assert _admin_attempts(client, second) == (["2"], "2")


def test_detail_headers_read_as_written_for_long_japanese_names(app, auth, client):
    """A long Japanese name folded over several encoded words reads back without a stray space, and a
    literal encoded word in the subject stays literal, in the detail page's header table."""
    name = "山田 花子（やまだ はなこ）株式会社みどり商事 購買部 第二課 課長代理"
    msg = compose.build_message(sender=("r+abc@reply.localhost", name), to="inbox@example.jp", subject=LITERAL,
                                body="本文")
    row = outbox.enqueue(msg)
    db.session.commit()
    headers = dict(history.preview(row.raw).headers)
    assert headers["From"] == f"{name} <r+abc@reply.localhost>" and headers["Subject"] == LITERAL
    _login_admin(auth)
    page = client.get(f"/admin/outbox/{row.id}").get_data(as_text=True)
    assert f"<td>{name} &lt;r+abc@reply.localhost&gt;</td>" in page
