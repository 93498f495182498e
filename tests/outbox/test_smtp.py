"""The SMTP transport against a real aiosmtpd server: URLs, re-use, failures, TLS, AUTH."""
import ssl

import pytest

from plugin.smtp import PermanentError, SmtpConnection, SmtpUrlError, TemporaryError, parse_smtp_url
from tests.outbox.conftest import make_mail
from tests.smtp_server import ScriptedHandler, free_port, password_authenticator, self_signed_context, start_server


@pytest.mark.parametrize("url, expected", [
    ("smtp://127.0.0.1:1025", ("127.0.0.1", 1025, "plain", None, None, 30.0)),
    ("smtp://mail.example.jp", ("mail.example.jp", 25, "plain", None, None, 30.0)),
    ("smtp://user%40shop:p%40ss%3Aw@mail.example.jp:587?starttls=1",
     ("mail.example.jp", 587, "starttls", "user@shop", "p@ss:w", 30.0)),
    ("smtp://mail.example.jp?starttls=1&timeout=5", ("mail.example.jp", 587, "starttls", None, None, 5.0)),
    ("smtps://u:pw@mail.example.jp", ("mail.example.jp", 465, "smtps", "u", "pw", 30.0)),
    ("SMTPS://mail.example.jp:2465?timeout=2.5", ("mail.example.jp", 2465, "smtps", None, None, 2.5)),
])
def test_parse_smtp_url(url, expected):
    """Scheme, default ports, STARTTLS, percent-decoded credentials and timeout are read from the URL."""
    s = parse_smtp_url(url)
    assert (s.host, s.port, s.mode, s.username, s.password, s.timeout) == expected


@pytest.mark.parametrize("url", [
    "", "http://mail.example.jp", "smtp://", "smtp://h:notaport", "smtp://h?starttls=maybe",
    "smtp://h?timeout=abc", "smtp://h?timeout=0", "smtps://h?starttls=1", "smtp://h?tls=1",
    "smtp://u:p%C3%A4ss@h",
])
def test_parse_smtp_url_rejects_bad_urls(url):
    """A wrong URL is a clear SmtpUrlError, not a crash at the first send."""
    with pytest.raises(SmtpUrlError):
        parse_smtp_url(url)


def test_display_hides_password():
    """The URL shown in logs never contains the password."""
    assert "secret" not in parse_smtp_url("smtp://u:secret@h:25").display()


def test_delivers_utf8_message(smtp_server, smtp_conn):
    """A Japanese message arrives with the envelope asked for and its subject RFC 2047 encoded."""
    refused = smtp_conn.send(make_mail(), "shop@example.jp", ["customer@example.jp"])
    assert refused == {}
    (mail_from, rcpts, content), = smtp_server.handler.messages
    assert (mail_from, rcpts) == ("shop@example.jp", ["customer@example.jp"])
    assert b"=?utf-8?" in content and "【楽天】".encode() not in content.split(b"\r\n\r\n")[0]


def test_hundred_messages_use_one_connection(smtp_server, smtp_conn):
    """100 messages in a row are sent over a single SMTP session."""
    for i in range(100):
        smtp_conn.send(make_mail(subject=f"no {i}"), "shop@example.jp", [f"c{i}@example.jp"])
    assert len(smtp_server.handler.messages) == 100
    assert smtp_server.handler.sessions == 1 == smtp_conn.connections


def test_refused_recipients_are_returned(smtp_server, smtp_conn):
    """Per-recipient refusals come back as {rcpt: (code, text)} while the others get the mail."""
    smtp_server.handler.rcpt_replies["gone@example.jp"] = ["550 5.1.1 no such user"]
    refused = smtp_conn.send(make_mail(), "shop@example.jp", ["ok@example.jp", "gone@example.jp"])
    assert refused == {"gone@example.jp": (550, "5.1.1 no such user")}
    assert smtp_server.handler.recipients() == ["ok@example.jp"]


def test_all_recipients_refused_returns_all(smtp_server, smtp_conn):
    """When nobody is accepted, every recipient is in the refused dict and the session survives."""
    smtp_server.handler.rcpt_replies["a@example.jp"] = ["451 4.3.0 try later"]
    assert smtp_conn.send(make_mail(), "shop@example.jp", ["a@example.jp"]) == {
        "a@example.jp": (451, "4.3.0 try later")}
    smtp_conn.send(make_mail(), "shop@example.jp", ["a@example.jp"])
    assert smtp_server.handler.sessions == 1


@pytest.mark.parametrize("reply, error", [("554 5.7.1 rejected as spam", PermanentError),
                                          ("451 4.7.1 greylisted", TemporaryError),
                                          ("552 5.2.2 mailbox full", TemporaryError)])
def test_data_reply_is_classified(smtp_server, smtp_conn, reply, error):
    """A refused DATA raises the typed error carrying code and text."""
    smtp_server.handler.data_replies.append(reply)
    with pytest.raises(error) as info:
        smtp_conn.send(make_mail(), "shop@example.jp", ["a@example.jp"])
    assert info.value.code == int(reply[:3]) and info.value.text == reply[4:]
    assert info.value.connection is False


def test_disconnect_mid_session_is_temporary_and_reconnects(smtp_server, smtp_conn):
    """A dropped connection during DATA is temporary, and the next send opens a new session."""
    smtp_server.handler.data_replies.append("disconnect")
    with pytest.raises(TemporaryError) as info:
        smtp_conn.send(make_mail(), "shop@example.jp", ["a@example.jp"])
    assert not info.value.connection
    smtp_conn.send(make_mail(), "shop@example.jp", ["a@example.jp"])
    assert len(smtp_server.handler.messages) == 1
    assert smtp_conn.connections == 2


def test_unreachable_server_is_a_connection_error():
    """Nobody listening: a temporary error flagged as connection-level (an outage)."""
    conn = SmtpConnection(parse_smtp_url(f"smtp://127.0.0.1:{free_port()}?timeout=2"))
    with pytest.raises(TemporaryError) as info:
        conn.send(make_mail(), "shop@example.jp", ["a@example.jp"])
    assert info.value.connection and info.value.code == 444


def test_starttls_and_auth_with_self_signed_certificate(tmp_path):
    """STARTTLS then AUTH LOGIN/PLAIN work against a server with a self-signed certificate."""
    ctx, cafile = self_signed_context(tmp_path)
    server = start_server(ScriptedHandler(), tls_context=ctx, require_starttls=True,
                          authenticator=password_authenticator("shop", "p@ss w:rd"), auth_required=True)
    try:
        conn = SmtpConnection(parse_smtp_url(
            f"smtp://shop:p%40ss%20w%3Ard@127.0.0.1:{server.port}?starttls=1&cafile={cafile}"))
        with conn:
            assert conn.send(make_mail(), "shop@example.jp", ["a@example.jp"]) == {}
        assert len(server.handler.messages) == 1
        bad = SmtpConnection(parse_smtp_url(f"smtp://shop:wrong@127.0.0.1:{server.port}?starttls=1&verify=0"))
        with pytest.raises(TemporaryError) as info:
            bad.send(make_mail(), "shop@example.jp", ["a@example.jp"])
        assert info.value.connection and info.value.code == 535
    finally:
        server.stop()


def test_certificate_is_verified_by_default(tmp_path):
    """Without the CA file a self-signed certificate is refused (no silent downgrade)."""
    ctx, _cafile = self_signed_context(tmp_path)
    server = start_server(ScriptedHandler(), tls_context=ctx, require_starttls=True)
    try:
        conn = SmtpConnection(parse_smtp_url(f"smtp://127.0.0.1:{server.port}?starttls=1"))
        with pytest.raises(TemporaryError) as info:
            conn.send(make_mail(), "shop@example.jp", ["a@example.jp"])
        assert info.value.connection and "CERTIFICATE" in info.value.text.upper()
        assert server.handler.messages == []
    finally:
        server.stop()


def test_smtps_implicit_tls(tmp_path):
    """smtps:// speaks TLS from the first byte."""
    ctx, _cafile = self_signed_context(tmp_path)
    server = start_server(ScriptedHandler(), ssl_context=ctx)
    try:
        client_ctx = ssl.create_default_context()
        client_ctx.check_hostname, client_ctx.verify_mode = False, ssl.CERT_NONE
        with SmtpConnection(parse_smtp_url(f"smtps://127.0.0.1:{server.port}"), ssl_context=client_ctx) as conn:
            conn.send(make_mail(), "shop@example.jp", ["a@example.jp"])
        assert len(server.handler.messages) == 1
    finally:
        server.stop()
