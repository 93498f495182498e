"""The malls' write rules, checked before a reply is queued (docs/mall-apis.md §1.5 and §2.5)."""
import pytest

from sync import malls
from sync.malls.rakuten.client import MAX_LINE
from sync.replies.parse import File
from sync.replies.rules import clean_name, wrap_line


def check(mall, text, files=()):
    """What intake asks of the account's mall before queueing a reply."""
    return malls.get(mall).check_reply(text, files)

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 100
PDF = b"%PDF-1.4 test"


def test_long_line_is_wrapped_without_losing_text():
    """A 700-character line becomes lines of at most 300 characters whose concatenation is the original."""
    line = ("お問い合わせの件、" + "あ" * 60 + "。") * 10
    pieces = wrap_line(line, MAX_LINE)
    assert all(len(p) <= 300 for p in pieces) and "".join(pieces) == line
    assert all(p[-1] in "、。" for p in pieces[:-1])  # broken after punctuation


def test_wrap_never_splits_an_allowed_url():
    """A URL near the 300th character moves to the next line whole."""
    url = "https://item.rakuten.co.jp/shop/item-12345/"
    line = "あ" * 280 + url + "い" * 50
    pieces = wrap_line(line, MAX_LINE)
    assert any(url in p for p in pieces) and "".join(pieces) == line


def test_wrapped_reply_passes_and_reports_wrapping():
    """Rakuten: a long line is fine after wrapping; the result says it wrapped."""
    result = check("rakuten", "x" * 650)
    assert result.problems == [] and result.wrapped == 1
    assert [len(line) for line in result.text.split("\n")] == [300, 300, 50]


@pytest.mark.parametrize("mall, text, fragment", [
    ("rakuten", "あ" * 2001, "2000文字まで"),
    ("rakuten", "あ" * 2000, "折り返しを含みます"),
    ("rakuten", "", "空です"),
    ("rakuten", "詳しくは http://item.rakuten.co.jp/shop/ をご覧ください", "使えないURL"),
    ("rakuten", "詳しくは https://example.com/ をご覧ください", "https://example.com/"),
    ("rakuten", "詳しくは www.example.com をご覧ください", "www.example.com"),
    ("rakuten", "詳しくはhttps://example.com/をご覧ください", "https://example.com/"),
    ("yahoo", "あ" * 2001, "2000文字まで"),
    ("yahoo", "  ", "空です"),
])
def test_rule_violations_name_the_problem(mall, text, fragment):
    """Each broken rule gives a Japanese problem that says what to fix."""
    problems = check(mall, text).problems
    assert problems and fragment in " ".join(problems)


@pytest.mark.parametrize("text", [
    "詳しくは https://item.rakuten.co.jp/shop/item/ をご覧ください",
    "https://faq.rakuten.net/ と https://books.rakuten.co.jp/ を参照",
    ("あ" * 250 + "\n") * 7 + "あ" * 243,
])
def test_allowed_rakuten_replies(text):
    """https URLs on Rakuten's domains and exactly 2,000 characters (newlines count) are allowed."""
    assert check("rakuten", text).problems == []


def test_yahoo_allows_any_url_and_long_lines():
    """Yahoo! has no URL or line rule, only the 2,000-character limit."""
    result = check("yahoo", "http://example.com/ " + "x" * 900)
    assert result.problems == [] and "\n" not in result.text


def test_rakuten_attachment_rules():
    """Rakuten: one png/jpeg/gif/pdf ≤ 5 MB whose bytes match its extension; a second file is a problem."""
    ok = check("rakuten", "写真です", [File("写真[1].png", "image/png", PNG)])
    assert ok.problems == [] and ok.files[0].name == "写真(1).png"
    assert "1個まで" in check("rakuten", "二枚", [File("a.png", "image/png", PNG), File("b.pdf", "application/pdf", PDF)]
                            ).problems[0]
    assert "PNG・JPEG・GIF・PDF" in check("rakuten", "x", [File("a.docx", "application/msword", b"PK")]).problems[0]
    assert "一致しません" in check("rakuten", "x", [File("a.png", "image/png", b"GIF89a")]).problems[0]
    assert "5MB" in check("rakuten", "x", [File("a.pdf", "application/pdf", b"%PDF" + b"0" * (5 * 1024 * 1024))]).problems[0]


def test_yahoo_takes_several_files():
    """Yahoo!: several JPEG/PNG/GIF/PDF files pass (the private-topic rule is checked when posting)."""
    result = check("yahoo", "資料です", [File("a.png", "image/png", PNG), File("b.pdf", "application/pdf", PDF)])
    assert result.problems == [] and len(result.files) == 2


def test_clean_name_keeps_extension_within_100_characters():
    """Long names are cut to 100 characters keeping the extension; a missing one comes from the type."""
    assert clean_name("あ" * 150 + ".jpeg") == "あ" * 95 + ".jpeg"
    assert clean_name("scan", "application/pdf") == "scan.pdf"
