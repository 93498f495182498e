"""smtp-in as a server: size limit, STARTTLS, the CLI process, admin page, mark-read setting."""
import datetime as dt
import logging
import smtplib
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.exc import OperationalError

from plugin import settings
from plugin.extensions import db
from sync.replies import guard
from sync.replies.models import ReplyJob
from tests import workers
from tests.conftest import csrf_token
from tests.smtp_server import free_port
from tests.sync.helpers import deliver_rakuten, jobs, mails, posted, reply_to, send


def test_oversized_mail_gets_552_and_is_not_stored(sync_app, mall, smtp_in):
    """A mail over the size limit is refused at DATA (552) and nothing is stored."""
    _account, original, _number = deliver_rakuten(mall)
    msg = reply_to(original, "大きい添付")
    msg.add_attachment(b"\x89PNG" + b"0" * 300 * 1024, maintype="image", subtype="png", filename="big.png")
    with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as err:
        send(smtp_in, msg)
    assert err.value.smtp_code == 552
    assert mails() == []


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reply.localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_starttls_is_offered_and_works(sync_app, mall, tmp_path):
    """With a certificate, smtp-in offers STARTTLS and accepts a reply over TLS."""
    from aiosmtpd.controller import Controller

    from sync.replies.smtp_in import ReplyHandler, smtp_options, tls_context

    _account, original, _number = deliver_rakuten(mall)
    options = smtp_options(sync_app, tls=tls_context(*_self_signed(tmp_path)), require_tls=True)
    options["server_hostname"] = options.pop("hostname")
    port = free_port()
    controller = Controller(ReplyHandler(sync_app), hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            client.starttls(context=ssl._create_unverified_context())
            client.send_message(reply_to(original, "TLSで返信"), from_addr="agent@helpdesk.example")
    finally:
        controller.stop()
    assert mails()[0].state == "accepted"


def test_cli_process_refuses_forged_and_stops_on_sigterm(sync_app, tmp_path):
    """`mallbridge smtp-in --port P` listens, answers 550 to a forged address and exits cleanly on SIGTERM."""
    port = free_port()
    log, proc = tmp_path / "smtp-in.log", None
    try:
        proc = workers.start(workers.env_for(sync_app), "smtp-in", "--port", str(port), log_path=log)
        workers.wait_for(lambda: _listens(port) and workers.catches_sigterm(proc), "smtp-in listens", [proc],
                         log_path=log)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.ehlo()
            client.mail("agent@helpdesk.example")
            code, _text = client.rcpt("r+r1.000000000000.0000000000000000@reply.localhost")
            assert code == 550
        workers.stops_on_sigterm(proc, log)
    finally:
        workers.reap(proc)
    assert "smtp-in listening on 127.0.0.1:" in workers.tail(log)


def _listens(port):
    try:
        smtplib.SMTP("127.0.0.1", port, timeout=30).quit()
        return True
    except OSError:
        return False


def test_cli_once_exits_after_the_first_stored_mail(sync_app, mall, tmp_path):
    """`mallbridge smtp-in --once` serves until one reply is stored and taken in, then exits by itself."""
    _account, original, _number = deliver_rakuten(mall)
    port = free_port()
    log, proc = tmp_path / "smtp-in.log", None
    try:
        proc = workers.start(workers.env_for(sync_app), "smtp-in", "--port", str(port), "--once", log_path=log)
        workers.wait_for(lambda: _listens(port), "smtp-in listens", [proc], log_path=log)
        send(port, reply_to(original, "在庫ございます。"))
        workers.wait_for(lambda: proc.poll() is not None, "smtp-in --once exits", log_path=log)
    finally:
        workers.reap(proc)
    assert proc.returncode == 0, workers.tail(log)
    assert [m.state for m in mails()] == ["accepted"]


def test_database_outage_answers_451_and_is_logged_once(sync_app, mall, smtp_in, monkeypatch, caplog):
    """While the database is down RCPT gets 451 (the helpdesk retries later) and one log line, not one
    per mail; the recovery is logged once and the reply is then accepted."""
    _account, original, _number = deliver_rakuten(mall)
    real, calls = guard.account_for_recipient, []

    def flaky(address):
        calls.append(address)
        if len(calls) <= 2:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real(address)

    monkeypatch.setattr(guard, "account_for_recipient", flaky)
    with caplog.at_level(logging.INFO, logger="mallbridge.sync"):
        for _ in range(2):
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                send(smtp_in, reply_to(original, "在庫ございます。"))
            assert next(iter(refused.value.recipients.values()))[0] == 451
        assert send(smtp_in, reply_to(original, "在庫ございます。")) == {}
    assert caplog.text.count("cannot check recipient") == 1
    assert caplog.text.count("database reachable again") == 1
    assert [m.state for m in mails()] == ["accepted"]


def test_admin_sees_bounce_and_requeues_dead_job(sync_app, mall, smtp_in, client, auth, runner):
    """The admin page lists the bounced reply with its problem; a dead job can be requeued and is then posted."""
    _account, original, _number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "https://example.com/ をご覧ください"))
    send(smtp_in, reply_to(original, "正しい返信"))
    with mall.state.lock:
        mall.state.add_fault("status", 1, "rakuten", "/inquirymng-api/inquiry/reply", 400)
    runner.invoke(args=["sync", "run", "--once"])
    (job,) = jobs()
    assert job.state == "dead"
    auth.login("admin@example.jp", "admin-password-1")
    page = client.get("/admin/replies").get_data(as_text=True)
    assert "差し戻し" in page and "送信失敗" in page
    bounced = mails()[0]
    detail = client.get(f"/admin/replies/{bounced.id}").get_data(as_text=True)
    assert "楽天の返信に使えないURL" in detail
    token = csrf_token(client.get(f"/admin/replies/{job.reply_mail_id}").get_data(as_text=True))
    assert client.post(f"/admin/replies/jobs/{job.id}/requeue", data={"csrf_token": token}).status_code == 302
    runner.invoke(args=["sync", "run", "--once"])
    assert [p["message"] for p in posted(mall)] == ["正しい返信"]
    auth.logout()
    auth.login()
    assert client.get("/admin/replies").status_code == 403


def test_mark_read_after_delivery(sync_app, mall, smtp_sink, runner):
    """With the setting on, a customer message delivered to the inbox is marked read on the mall once."""
    settings.set_value("replies.mark_read", True, actor="test")
    _account, _original, number = deliver_rakuten(mall)
    runner.invoke(args=["sync", "run", "--once"])
    assert db.session.query(ReplyJob).count() == 0  # not delivered yet
    # The outbox worker disposes the engine's pool (plugin.outbox.runner.relax_commit_durability):
    # give back this session's connection first so it is not orphaned.
    db.session.close()
    assert runner.invoke(args=["outbox", "run", "--once"]).exit_code == 0
    runner.invoke(args=["sync", "run", "--once"])
    runner.invoke(args=["sync", "run", "--once"])
    assert [(j.kind, j.state) for j in jobs()] == [("read", "posted")]
    with mall.state.lock:
        assert mall.state.inquiries[number]["readByMerchant"] is True
