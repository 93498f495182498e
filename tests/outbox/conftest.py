"""Fixtures for outbox tests: a real SMTP server, a connection to it, message builders."""
from email.message import EmailMessage

import pytest

from plugin.smtp import SmtpConnection, parse_smtp_url
from tests.smtp_server import ScriptedHandler, start_server


@pytest.fixture
def smtp_server():
    """A started aiosmtpd server with a ScriptedHandler (`.handler`), stopped afterwards."""
    controller = start_server(ScriptedHandler())
    yield controller
    controller.stop()


@pytest.fixture
def smtp_url(smtp_server):
    """The smtp:// URL of the test server."""
    return f"smtp://127.0.0.1:{smtp_server.port}"


@pytest.fixture
def smtp_conn(smtp_url):
    """An SmtpConnection to the test server, closed afterwards."""
    conn = SmtpConnection(parse_smtp_url(smtp_url))
    yield conn
    conn.close()


def make_mail(to="customer@example.jp", subject="【楽天】商品問い合わせ 有機緑茶 100g", body="お問い合わせありがとうございます。",
              **headers):
    """A small Japanese UTF-8 message; extra headers by keyword (Cc=…, Bcc=…, Message_ID=…)."""
    msg = EmailMessage()
    msg["From"] = "緑茶本舗 <shop@example.jp>"
    msg["To"] = to
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg
