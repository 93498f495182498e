"""The demo mailbox: a real SMTP sink that keeps mails, and the page that shows them."""
import smtplib
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from plugin.demo.mailbox import SinkHandler, list_mail, mailbox_dir
from tests.smtp_server import free_port


def test_sink_keeps_japanese_mail_and_envelope(app, auth, client, tmp_path):
    """A mail sent over SMTP shows on /demo/mailbox with its Japanese subject and Bcc recipient."""
    app.instance_path = str(tmp_path)
    import os

    os.makedirs(mailbox_dir(app))
    controller = Controller(SinkHandler(mailbox_dir(app)), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = "【楽天】商品問い合わせ 有機緑茶", "shop@example.jp", "to@example.jp"
        msg.set_content("お世話になっております。\n在庫はありますか？")
        with smtplib.SMTP(controller.hostname, controller.port) as smtp:
            smtp.send_message(msg, to_addrs=["to@example.jp", "inbox@example.jp"])
    finally:
        controller.stop()
    mails = list_mail(mailbox_dir(app))
    assert mails[0]["subject"] == "【楽天】商品問い合わせ 有機緑茶"
    assert "inbox@example.jp" in mails[0]["to"]
    auth.login()
    page = client.get(f"/demo/mailbox/{mails[0]['id']}").get_data(as_text=True)
    assert "在庫はありますか" in page and "【楽天】商品問い合わせ" in page


def test_mailbox_page_needs_login_and_rejects_bad_names(app, auth, client):
    """Anonymous visitors log in first; a made-up file name is a 404, never a path outside the folder."""
    assert client.get("/demo/mailbox/").status_code == 302
    auth.login()
    assert client.get("/demo/mailbox/").status_code == 200
    assert client.get("/demo/mailbox/..%2F..%2Fconfig.py").status_code == 404
