"""Quote stripping and body extraction of reply mails: a table of real mail programs' styles."""
from email.message import EmailMessage

import pytest

from sync.replies.parse import parse_bytes
from sync.replies.quotes import clean, strip_quotes
from sync.replies.text import html_to_text

ADDR = "r+r1.3f1f0674b5f8.b83b255c6046af3e@reply.example.jp"
REPLY = "お問い合わせありがとうございます。\n在庫ございます。"
SIGNATURE = "--\n緑茶本舗 担当 太郎\nTEL 03-1234-5678"

QUOTE_STYLES = {
    "gmail_ja": f"{REPLY}\n\n{SIGNATURE}\n\n2026年11月23日(月) 12:00 山田 花子 <{ADDR}>:\n\n> 在庫はありますか？\n>\n> 山田\n",
    "gmail_ja_wrapped": f"{REPLY}\n\n{SIGNATURE}\n\n2026年11月23日(月) 12:00 山田 花子 <\n{ADDR}>:\n\n> 在庫はありますか？\n",
    "gmail_en": f"{REPLY}\n\n{SIGNATURE}\n\nOn Mon, Nov 23, 2026 at 12:00 PM 山田 花子 <{ADDR}>\nwrote:\n\n> 在庫はありますか？\n",
    "thunderbird_ja": f"{REPLY}\n\n{SIGNATURE}\n\n山田 花子 さんは書きました:\n> 在庫はありますか？\n",
    "thunderbird_ja_date": f"{REPLY}\n\n{SIGNATURE}\n\n2026/11/23 12:00, 山田 花子 wrote:\n> 在庫はありますか？\n",
    "outlook_ja": (f"{REPLY}\n\n{SIGNATURE}\n\n________________________________\n差出人: 山田 花子 <{ADDR}>\n"
                   "送信日時: 2026年11月23日 12:00\n宛先: shop@example.jp\n件名: 【楽天】商品問い合わせ 有機緑茶 100g\n\n"
                   "在庫はありますか？\n"),
    "outlook_en": (f"{REPLY}\n\n{SIGNATURE}\n\nFrom: 山田 花子 <{ADDR}>\nSent: Monday, November 23, 2026 12:00 PM\n"
                   "To: shop@example.jp\nSubject: 【楽天】商品問い合わせ\n\n在庫はありますか？\n"),
    "original_message": f"{REPLY}\n\n{SIGNATURE}\n\n-----Original Message-----\nFrom: 山田\n在庫はありますか？\n",
    "original_message_ja": f"{REPLY}\n\n{SIGNATURE}\n\n-----元のメッセージ-----\n差出人: 山田\n在庫はありますか？\n",
    "helpdesk_own": (f"{REPLY}\n\n{SIGNATURE}\n\nモール: 楽天\n店舗: 本店 (楽天 391234)\n種別: 商品問い合わせ\n"
                     "問い合わせ番号: 391234-20261123-1\n" + "─" * 30 + "\n在庫はありますか？\n" + "─" * 30 + "\n"
                     "このメールに返信すると、モールのお客様に返信として送られます（スレッド内で返信してください）。\n"),
    "helpdesk_own_quoted": (f"{REPLY}\n\n{SIGNATURE}\n\n> モール: 楽天\n> 店舗: 本店\n> " + "─" * 30 + "\n> 在庫は？\n"),
    "helpdesk_footer_only": (f"{REPLY}\n\n{SIGNATURE}\n\n"
                             "このメールに返信すると、モールのお客様に返信として送られます（スレッド内で返信してください）。\n"),
    "crlf": (f"{REPLY}\n\n{SIGNATURE}\n\n> 在庫はありますか？\n").replace("\n", "\r\n"),
}


@pytest.mark.parametrize("style", sorted(QUOTE_STYLES))
def test_quote_styles_leave_reply_and_signature(style):
    """Each mail program's quote is removed; the reply and the signature stay, with LF newlines."""
    text, complete = clean(QUOTE_STYLES[style])
    assert text == f"{REPLY}\n\n{SIGNATURE}"
    assert complete is False


def test_bottom_posting_keeps_answers_between_quotes():
    """Inline answers under `>` quotes are kept in order; the attribution line goes."""
    body = "On Mon, Nov 23, 2026, 山田 wrote:\n> 在庫は？\n在庫あります。\n> 送料は？\n無料です。\n"
    assert strip_quotes(body) == "在庫あります。\n無料です。"


def test_plain_text_mentioning_from_is_kept():
    """A line starting with 'From:' in the agent's own text is not an Outlook header block."""
    body = "From: の欄にお名前をご記入ください。\nよろしくお願いします。"
    assert strip_quotes(body) == body


def test_complete_command_on_first_line():
    """`#完了` (half- or full-width #) on the first line sets the flag and is removed from the text."""
    assert clean("#完了\nありがとうございました。") == ("ありがとうございました。", True)
    assert clean("＃完了\n\nありがとうございました。") == ("ありがとうございました。", True)
    assert clean("ありがとうございました。\n#完了") == ("ありがとうございました。\n#完了", False)


def test_extra_markers_from_the_setting():
    """A shop-configured marker line starts the quote (for a helpdesk's own quote header)."""
    body = "返信です。\n\n=== 以下、過去のやり取り ===\n在庫は？"
    assert strip_quotes(body, ("=== 以下、過去のやり取り",)) == "返信です。"


def test_html_only_mail_becomes_text_without_quote():
    """An HTML-only reply: <br> and blocks become newlines, Gmail's quote div and <blockquote> disappear."""
    html = ("<div dir='ltr'>お問い合わせありがとうございます。<br>在庫ございます。<br><br>-- <br>緑茶本舗</div>"
            "<div class='gmail_quote'><div>2026年11月23日(月) 12:00 山田 &lt;x@y&gt;:<br></div>"
            "<blockquote>在庫はありますか？</blockquote></div>")
    msg = EmailMessage()
    msg["From"] = "担当 <agent@helpdesk.example>"
    msg["Subject"] = "Re: 問い合わせ"
    msg.set_content(html, subtype="html")
    parsed = parse_bytes(msg.as_bytes())
    assert parsed.text == "お問い合わせありがとうございます。\n在庫ございます。\n\n--\n緑茶本舗"
    assert parsed.sender == "agent@helpdesk.example"


def test_html_blockquote_is_quoted():
    """Text inside <blockquote> is turned into `>` lines (then stripped)."""
    assert html_to_text("<p>Hi</p><blockquote>old<br>stuff</blockquote><p>after</p>") == "Hi\n> old\n> stuff\nafter"
    assert strip_quotes(html_to_text("<p>Hi</p><blockquote>old</blockquote>")) == "Hi"


def test_plain_part_preferred_and_attachments_collected():
    """multipart/alternative uses the text/plain part; attached files are returned with their bytes."""
    msg = EmailMessage()
    msg["From"] = "agent@helpdesk.example"
    msg["In-Reply-To"] = "<a@reply.example.jp>"
    msg["References"] = "<first@reply.example.jp> <a@reply.example.jp>"
    msg.set_content("プレーン本文")
    msg.add_alternative("<p>HTML本文</p>", subtype="html")
    msg.add_attachment(b"\x89PNG data", maintype="image", subtype="png", filename="写真.png")
    parsed = parse_bytes(msg.as_bytes())
    assert parsed.text == "プレーン本文"
    assert [(f.name, f.content_type, f.data) for f in parsed.files] == [("写真.png", "image/png", b"\x89PNG data")]
    assert parsed.references == ["<a@reply.example.jp>", "<first@reply.example.jp>"]


def test_inline_signature_logo_is_not_an_attachment():
    """An image referenced by Content-ID from the HTML (a signature logo) is not sent to the customer."""
    msg = EmailMessage()
    msg["From"] = "agent@helpdesk.example"
    msg.set_content("本文")
    msg.add_alternative('<p>本文</p><img src="cid:logo@x">', subtype="html")
    msg.get_payload()[1].add_related(b"\x89PNG logo", maintype="image", subtype="png", cid="<logo@x>",
                                     filename="logo.png", disposition="inline")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="見積書.pdf")
    parsed = parse_bytes(msg.as_bytes())
    assert [f.name for f in parsed.files] == ["見積書.pdf"]


HEADER_STYLES = {
    "helpdesk": "2026/11/30 18:28 佐藤 一郎 様:",
    "helpdesk_fullwidth_colon": "2026/11/30 18:28 佐藤 一郎 様：",
    "gmail_ja": f"2026年11月30日(月) 18:28 佐藤 一郎 <{ADDR}>:",
    "gmail_en": f"On Mon, Nov 30, 2026 at 6:28 PM 佐藤 一郎 <{ADDR}> wrote:",
    "thunderbird_en": "On 2026/11/30 18:28, 佐藤 一郎 wrote:",
    "thunderbird_ja": "2026/11/30 18:28, 佐藤 一郎 wrote:",
    "thunderbird_ja_locale": "佐藤 一郎 さんは書きました:",
    "apple_mail_ja": f"2026/11/30 18:28、佐藤 一郎 <{ADDR}>のメール:",
    "iso_date": f"2026-11-30 18:28 佐藤 一郎 <{ADDR}>:",
}


@pytest.mark.parametrize("style", sorted(HEADER_STYLES))
def test_quote_header_lines_go_with_their_quote(style):
    """A quote header line of the usual clients and of the helpdesk is removed with the `>` quote
    it introduces; the reply and signature stay."""
    body = f"{REPLY}\n\n{SIGNATURE}\n\n{HEADER_STYLES[style]}\n> 在庫はありますか？\n> 佐藤\n"
    assert clean(body) == (f"{REPLY}\n\n{SIGNATURE}", False)


def test_quote_header_followed_by_an_unmarked_copy_is_cut_to_the_end():
    """「2026/11/30 18:28 佐藤 一郎 様:」 followed by the old mail without `>` marks: all of it goes."""
    body = f"{REPLY}\n\n2026/11/30 18:28 佐藤 一郎 様:\n在庫はありますか？\n佐藤\n"
    assert strip_quotes(body) == REPLY


def test_agent_lines_that_start_with_a_date_are_kept():
    """A line of the agent's that starts with a date and ends with a colon is not a quote header."""
    body = "2026/12/01 10:00 以降の発送予定:\n・有機緑茶 100g\n・ほうじ茶"
    assert strip_quotes(body) == body


def _flowed(text, delsp=False):
    msg = EmailMessage()
    msg["From"] = "agent@helpdesk.example"
    msg.set_content(text)
    msg.set_param("format", "flowed")
    if delsp:
        msg.set_param("delsp", "yes")
    return parse_bytes(msg.as_bytes())


def test_format_flowed_soft_breaks_are_joined():
    """A Thunderbird-style format=flowed body: lines ending in a space continue; hard breaks, the
    signature separator and the quote (removed) are kept apart."""
    text = ("お問い合わせありがとうございます。在庫は十分に \nございますので、明日発送いたします。\n"
            "\n-- \n緑茶本舗 担当 太郎\n\n> 在庫は \n> ありますか？\n")
    parsed = _flowed(text)
    assert parsed.text == ("お問い合わせありがとうございます。在庫は十分に ございますので、明日発送いたします。"
                           "\n\n--\n緑茶本舗 担当 太郎")


def test_format_flowed_delsp_removes_the_added_space():
    """With delsp=yes the space before a soft break was added by the sender and goes when joining
    (Japanese text has no spaces between words)."""
    parsed = _flowed("お問い合わせありがとうございます。在庫は十分に \nございます。\n \nstuffed line\n", delsp=True)
    assert parsed.text == "お問い合わせありがとうございます。在庫は十分にございます。\n\nstuffed line"


def test_format_flowed_space_stuffing_is_removed():
    """A space-stuffed line (" From …", "  indented") loses the stuffing space only."""
    parsed = _flowed(" From the shop\n  indented\n")
    assert parsed.text == "From the shop\n indented"


def test_html_with_comments_scripts_and_entities():
    """Comments, <style>, <script> and <title> are not text; entities are decoded."""
    html = ("<html><head><title>t</title><style>p{color:red}</style></head><body><!-- c -->"
            "<p>在庫&amp;送料&nbsp;無料</p><script>alert(1)</script><p>a &lt; b</p></body></html>")
    assert html_to_text(html) == "在庫&送料 無料\n\na < b"
