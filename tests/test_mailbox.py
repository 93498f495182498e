"""The demo mailbox: a real SMTP sink that keeps mails, and the page that shows them as threads."""
import os
import re
import smtplib
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from plugin.demo import mailview
from plugin.demo.mailbox import SinkHandler, list_mail, mailbox_dir
from tests.smtp_server import free_port


@pytest.fixture
def folder(app, tmp_path):
    """The app's demo mailbox folder, empty, inside a temporary instance folder."""
    app.instance_path = str(tmp_path)
    os.makedirs(mailbox_dir(app))
    return mailbox_dir(app)


def store(folder, raw, stamp):
    """Put one raw mail into the folder as the sink would (envelope header first); returns its name."""
    name = f"{stamp:016d}-{stamp % 16 ** 8:08x}.eml"
    with open(os.path.join(folder, name), "wb") as fh:
        fh.write(b"X-Envelope-To: inbox@example.jp\r\n" + raw)
    return name


def raw_mail(subject, message_id, date, in_reply_to=None, references=(), sender="=?utf-8?b?5bGx55SwIOiKseWtkA==?= <r@x.jp>"):
    """A raw mail with threading headers."""
    head = [f"From: {sender}", "To: inbox@example.jp", f"Subject: {subject}", f"Date: {date}",
            f"Message-ID: {message_id}"]
    if in_reply_to:
        head.append(f"In-Reply-To: {in_reply_to}")
    if references:
        head.append("References: " + " ".join(references))
    return ("\r\n".join(head) + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n").encode()


def test_sink_keeps_japanese_mail_and_envelope(app, auth, client, folder):
    """A mail sent over SMTP shows on /demo/mailbox with its Japanese subject and Bcc recipient."""
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
    assert mails[0].subject == "【楽天】商品問い合わせ 有機緑茶"
    assert "inbox@example.jp" in mails[0].to
    auth.login()
    page = client.get(f"/demo/mailbox/{mails[0].id}").get_data(as_text=True)
    assert "在庫はありますか" in page and "【楽天】商品問い合わせ" in page


def test_mailbox_page_needs_login_and_rejects_bad_names(app, auth, client):
    """Anonymous visitors log in first; a made-up file name is a 404, never a path outside the folder."""
    assert client.get("/demo/mailbox/").status_code == 302
    auth.login()
    assert client.get("/demo/mailbox/").status_code == 200
    assert client.get("/demo/mailbox/..%2F..%2Fconfig.py").status_code == 404


def test_page_nests_replies_under_what_they_answer(auth, client, folder):
    """Two inquiries arrive interleaved; the page shows each as one thread, replies indented below their parent."""
    store(folder, raw_mail("【楽天】A", "<a1@x>", "Sun, 29 Nov 2026 10:00:00 +0900"), 1)
    store(folder, raw_mail("【楽天】B", "<b1@x>", "Sun, 29 Nov 2026 11:00:00 +0900"), 2)
    store(folder, raw_mail("Re: 【楽天】A", "<a2@x>", "Sun, 29 Nov 2026 12:00:00 +0900", "<a1@x>", ["<a1@x>"]), 3)
    # References only (no In-Reply-To), naming a message the mailbox never got before the one it has.
    store(folder, raw_mail("Re: Re: 【楽天】A", "<a3@x>", "Sun, 29 Nov 2026 13:00:00 +0900", None,
                           ["<gone@x>", "<a1@x>", "<a2@x>"]), 4)
    auth.login()
    html = client.get("/demo/mailbox/").get_data(as_text=True)
    bodies = re.findall(r'<tbody class="thread">(.*?)</tbody>', html, re.DOTALL)
    assert len(bodies) == 2
    newest = re.findall(r'class="subject depth-(\d)">.*?>([^<>]+)</a>', bodies[0], re.DOTALL)
    assert newest == [("0", "【楽天】A"), ("1", "Re: 【楽天】A"), ("2", "Re: Re: 【楽天】A")]
    assert re.findall(r'class="subject depth-(\d)">.*?>([^<>]+)</a>', bodies[1], re.DOTALL) == [("0", "【楽天】B")]


def test_page_shows_japanese_dates_and_readable_columns(auth, client, folder):
    """Dates are Japan time as 2026/11/29 22:06 whatever zone the mail used; the recipient column is 「宛先」."""
    store(folder, raw_mail("件名", "<d1@x>", "Sun, 29 Nov 2026 13:06:00 +0000"), 1)
    auth.login()
    html = client.get("/demo/mailbox/").get_data(as_text=True)
    assert "2026/11/29 22:06" in html and "+0000" not in html and "Sun, 29 Nov" not in html
    assert "<th>宛先</th>" in html and "配送先" not in html
    assert "山田 花子" in html  # the From display name, decoded


@pytest.mark.parametrize("sender", [
    "=?utf-8?b??= <a@x.jp>",                 # empty encoded word: the standard parser raises IndexError
    "=?utf-8?b?invalid?= <a@x.jp>",          # not base64 of UTF-8
    "=?x-unknown-charset?q?abc?= <a@x.jp>",  # no such charset
    "=?utf-8?b?!!!?= <a@x.jp>",
])
def test_a_name_that_looks_like_an_encoded_word_never_breaks_the_page(auth, client, folder, sender):
    """A From name shaped like a broken RFC 2047 word is shown as written; list and mail pages answer 200."""
    name = store(folder, raw_mail("=?utf-8?b?5Lu25ZCN?=", "<e1@x>", "Sun, 29 Nov 2026 10:00:00 +0900",
                                  sender=sender), 1)
    store(folder, raw_mail("ふつうのメール", "<e2@x>", "Sun, 29 Nov 2026 11:00:00 +0900"), 2)
    auth.login()
    listing = client.get("/demo/mailbox/")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert "件名" in html and "ふつうのメール" in html
    assert client.get(f"/demo/mailbox/{name}").status_code == 200


def test_unreadable_body_charset_and_date_are_shown_not_raised(folder):
    """An unknown body charset, a garbage date and a literal encoded word in the subject still read."""
    raw = (b"From: a@x.jp\r\nSubject: =?utf-8?b?invalid?= =?utf-8?b?5Lu25ZCN?=\r\nDate: yesterday\r\n"
           b"Content-Type: text/plain; charset=x-bogus\r\n\r\n\xe3\x81\x82\r\n")
    name = store(folder, raw, 1)
    mail = mailview.read(os.path.join(folder, name), name)
    assert mail.subject == "=?utf-8?b?invalid?= 件名"
    assert mail.date is None and mail.shown_date() != "日時不明"  # falls back to when the sink received it
    assert "あ" in mail.body and mail.problem is None


def test_encoded_words_split_inside_a_character_are_joined():
    """Adjacent encoded words are decoded together, so a character split across two of them survives."""
    assert mailview.decode_words("=?utf-8?b?5bGx55Sw?=\r\n =?utf-8?b?IOiK?= =?utf-8?b?seWtkA==?=") == "山田 花子"
    assert mailview.decode_words("=?utf-8?q?=E3=81?= =?utf-8?q?=82?=") == "あ"
