"""One mail never stops the service (issue 14.1): huge mails and lines are bounced in Japanese,
intake holds no write lock while it parses or checks, a mail that keeps failing is quarantined
for the admin without blocking the others, and every step is linear in the mail's size."""
import datetime as dt
import subprocess
import sys
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text

from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync.malls.rakuten.adapter import RakutenAdapter
from sync.replies import claims, intake, parse
from sync.replies.models import ReplyMail
from sync.replies.smtp_in import ReplyHandler, smtp_options
from tests.conftest import csrf_token
from tests.smtp_server import free_port
from tests.sync.helpers import AGENT, deliver_rakuten, jobs, mails, posted, reply_to, send


@pytest.fixture
def big_smtp_in(sync_app):
    """smtp-in with its production size limit (25 MB), for the 20 MiB mail."""
    options = smtp_options(sync_app)
    options["server_hostname"] = options.pop("hostname")
    port = free_port()
    controller = Controller(ReplyHandler(sync_app), hostname="127.0.0.1", port=port, **options)
    controller.start()
    yield port
    controller.stop()


def _bounces():
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_bounce")))


def test_a_one_megabyte_line_is_bounced_in_japanese(sync_app, mall, big_smtp_in, runner):
    """A reply of one 1 MB line (base64 in transit, as a helpdesk sends it) is answered 250, then
    bounced to the agent in Japanese; nothing reaches the mall."""
    _account, original, _number = deliver_rakuten(mall)
    assert send(big_smtp_in, reply_to(original, "あ" * 1_000_000)) == {}
    (stored,) = mails()
    assert stored.state == "bounced" and "本文が長すぎます" in stored.problem
    runner.invoke(args=["sync", "run", "--once"])
    assert posted(mall) == [] and jobs() == []
    (bounce,) = _bounces()
    assert bounce.recipients == [AGENT]


def test_a_long_line_under_the_size_limit_is_bounced(sync_app, mall, smtp_in):
    """One line of 50,000 characters breaks the line limit: the bounce says to add line breaks."""
    _account, original, _number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "い" * 50_000))
    (stored,) = mails()
    assert stored.state == "bounced" and "1行が長すぎます" in stored.problem


def test_a_20_mib_mail_is_stored_and_bounced_without_parsing_its_body(sync_app, mall, big_smtp_in, monkeypatch):
    """A 20 MiB reply is stored (the helpdesk gets its 250) and bounced as too large; its body is
    never parsed."""
    _account, original, _number = deliver_rakuten(mall)
    msg = reply_to(original, "大きな添付があります")
    msg.add_attachment(b"%PDF" + b"0" * (15 * 1024 * 1024), maintype="application", subtype="pdf",
                       filename="big.pdf")

    def no_body_parse(*args, **kwargs):
        raise AssertionError("the body of an oversized mail was parsed")

    monkeypatch.setattr(parse.email, "message_from_bytes", no_body_parse)
    assert send(big_smtp_in, msg) == {}
    (stored,) = mails()
    assert stored.size >= 20 * 1024 * 1024  # base64 in transit
    assert stored.state == "bounced" and "返信メールが大きすぎます" in stored.problem
    assert len(_bounces()) == 1


def _write_from_elsewhere(app, mail_id):
    """A write from another connection that must not wait for a lock (none is held)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if url.startswith("sqlite"):
                conn.exec_driver_sql("PRAGMA busy_timeout=0")
            else:
                conn.execute(text("SET LOCAL lock_timeout = '200ms'"))
            conn.execute(text("UPDATE reply_mail SET peer = peer WHERE id = :id"), {"id": mail_id})
    finally:
        engine.dispose()


def test_no_write_lock_is_held_while_parsing_or_checking(sync_app, mall, smtp_in, monkeypatch):
    """While intake parses the mail and while the mall's rules check it, another process can write
    to the database at once (SQLite: no busy wait at all; PostgreSQL: the mail's row is not locked)."""
    _account, original, _number = deliver_rakuten(mall)
    real_parse, real_check, seen = parse.parse_bytes, RakutenAdapter.check_reply, []

    def parse_and_write(raw, markers=()):
        _write_from_elsewhere(sync_app, max(m.id for m in mails()))
        seen.append("parse")
        return real_parse(raw, markers)

    def check_and_write(self, text_, files=()):
        _write_from_elsewhere(sync_app, max(m.id for m in mails()))
        seen.append("rules")
        return real_check(self, text_, files)

    monkeypatch.setattr(parse, "parse_bytes", parse_and_write)
    monkeypatch.setattr(RakutenAdapter, "check_reply", check_and_write)
    assert send(smtp_in, reply_to(original, "在庫ございます。")) == {}
    assert seen == ["parse", "rules"]
    assert [m.state for m in mails()] == ["accepted"]


def _age(mail_id, seconds=60):
    """Make a stored mail old enough for the sweep of `sync run`."""
    db.session.expire_all()
    row = db.session.get(ReplyMail, mail_id)
    row.received_at -= dt.timedelta(seconds=seconds)
    db.session.commit()


def test_a_mail_that_keeps_failing_is_quarantined_and_does_not_block_others(sync_app, mall, smtp_in, runner,
                                                                              monkeypatch, client, auth):
    """A mail whose intake raises is retried by `sync run` up to three attempts, then quarantined and
    never picked up again; a good mail behind it is posted meanwhile. The admin sees it on the
    replies page, requeues it (taken in once the fault is gone) or discards it."""
    _account, original, _number = deliver_rakuten(mall)
    real_parse = parse.parse_bytes

    def poison(raw, markers=()):
        if b"POISON" in raw:
            raise RuntimeError("parser bug")
        return real_parse(raw, markers)

    monkeypatch.setattr(parse, "parse_bytes", poison)
    send(smtp_in, reply_to(original, "POISON"))
    send(smtp_in, reply_to(original, "こちらは普通の返信です。"))
    bad, good = mails()
    assert (bad.state, bad.attempts) == ("received", 1) and good.state == "accepted"
    for _ in range(4):
        _age(bad.id)
        assert runner.invoke(args=["sync", "run", "--once"]).exit_code == 0
    bad = db.session.get(ReplyMail, bad.id)
    assert (bad.state, bad.attempts) == ("quarantined", 3)
    assert [p["message"] for p in posted(mall)] == ["こちらは普通の返信です。"]

    auth.login("admin@example.jp", "admin-password-1")
    page = client.get("/admin/replies").get_data(as_text=True)
    assert "隔離された返信が1件" in page
    token = csrf_token(client.get(f"/admin/replies/{bad.id}").get_data(as_text=True))
    monkeypatch.setattr(parse, "parse_bytes", real_parse)
    assert client.post(f"/admin/replies/{bad.id}/requeue", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert (db.session.get(ReplyMail, bad.id).state, db.session.get(ReplyMail, bad.id).attempts) == ("received", 0)
    _age(bad.id)
    runner.invoke(args=["sync", "run", "--once"])
    assert db.session.get(ReplyMail, bad.id).state == "accepted"


def _lease_runs_out(mail_id):
    db.session.expire_all()
    row = db.session.get(ReplyMail, mail_id)
    row.lease_until = row.received_at - dt.timedelta(seconds=1)
    row.received_at -= dt.timedelta(seconds=claims.LEASE_SECONDS + 60)
    db.session.commit()


def test_a_mail_that_crashes_the_process_is_not_picked_up_again_in_a_loop(sync_app, mall, smtp_in, runner,
                                                                            client, auth):
    """A mail whose intake kills the process (its claim is never released) is tried again only
    when the claim's lease has run out, and after three such attempts the sweep quarantines it
    without touching it; the admin can discard it."""
    _account, original, _number = deliver_rakuten(mall)
    mail_id = claims.store(reply_to(original, "落ちるメール").as_bytes(), rcpt=str(original["Reply-To"].addresses[0]),
                           mail_from=AGENT)
    for attempt in range(1, 4):
        assert claims.claim(mail_id).attempts == attempt  # … and the process dies here
        assert intake.process_pending() == 0  # leased: not taken again while the lease lasts
        _lease_runs_out(mail_id)
    assert intake.process_pending() == 0
    db.session.expire_all()
    row = db.session.get(ReplyMail, mail_id)
    assert (row.state, row.attempts) == ("quarantined", 3) and "隔離" in row.problem
    auth.login("admin@example.jp", "admin-password-1")
    token = csrf_token(client.get(f"/admin/replies/{mail_id}").get_data(as_text=True))
    assert client.post(f"/admin/replies/{mail_id}/discard", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(ReplyMail, mail_id).state == "discarded"
    runner.invoke(args=["sync", "run", "--once"])
    assert posted(mall) == [] and jobs() == []


@pytest.mark.parametrize("name, call", [
    ("wrap_line", "from sync.replies.rules import wrap_line; wrap_line('あ' * 2_000_000, 300)"),
    ("wrap_line with links", "from sync.replies.rules import wrap_line; wrap_line('http://a.b ' * 200_000, 300)"),
    ("HTML with unclosed tags", "from sync.replies.text import html_to_text; html_to_text('<a ' * 300_000)"),
    ("HTML with stray brackets", "from sync.replies.text import html_to_text; html_to_text('</' * 400_000)"),
    ("HTML with lone brackets", "from sync.replies.text import html_to_text; html_to_text('<3<' * 300_000)"),
    ("quote stripping", "from sync.replies.quotes import strip_quotes; strip_quotes('On ' + 'x wrote ' * 200_000)"),
    ("flowed text", "from sync.replies.text import unflow; unflow('a ' * 1_000_000, delsp=True)"),
    ("a long From header", ("from sync.replies.parse import parse_head; "
                            "parse_head(b'From: ' + b'a@b, ' * 400_000 + b'\\r\\n\\r\\nx')")),
])
def test_every_step_finishes_on_megabytes_of_hostile_text(name, call):
    """Each step over a reply's text is linear: on 1–2 MB of input built to make a quadratic
    implementation crawl (minutes to hours), it finishes; the deadline only catches a hang."""
    done = subprocess.run([sys.executable, "-c", call], timeout=120, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()


def test_the_limits_come_back_as_japanese_problems():
    """parse_bytes reports a too-long body, a too-long line and too many parts in Japanese."""
    def mail(body):
        msg = EmailMessage()
        msg["From"] = AGENT
        msg.set_content(body)
        return msg.as_bytes()

    assert "本文が長すぎます" in parse.parse_bytes(mail("あ\n" * 150_000)).problems[0]
    assert "1行が長すぎます" in parse.parse_bytes(mail("い" * 20_000)).problems[0]
    many = EmailMessage()
    many["From"] = AGENT
    many.set_content("本文")
    for i in range(60):
        many.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename=f"{i}.pdf")
    assert "パート" in parse.parse_bytes(many.as_bytes()).problems[0]
    assert parse.parse_bytes(mail("普通の返信です。")).problems == []
