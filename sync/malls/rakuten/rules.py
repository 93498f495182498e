"""Rakuten's rules for a shop reply (R-Messe): at most 2000 characters, lines of at most 300
(longer ones are wrapped, nothing dropped), links only to https pages on Rakuten's own domains,
one attachment."""
from sync.malls.rakuten.client import MAX_LINE, MAX_MESSAGE, URL_DOMAINS, url_allowed
from sync.replies.rules import EMPTY, links, wrap_line

MAX_FILES = 1


def check_text(text: str) -> tuple[str, list[str], int]:
    """(posted text, problems, wrapped lines) under Rakuten's rules."""
    problems, lines, wrapped = [], [], 0
    for line in text.split("\n"):
        parts = wrap_line(line, MAX_LINE)
        wrapped += len(parts) > 1
        lines.extend(parts)
    out = "\n".join(lines)
    if not out.strip():
        problems.append(EMPTY)
    elif len(out) > MAX_MESSAGE:
        extra = "（300文字を超える行の折り返しを含みます）" if wrapped else ""
        problems.append(f"楽天の返信は{MAX_MESSAGE}文字までです。本文が{len(out)}文字あります{extra}。"
                        f"{len(out) - MAX_MESSAGE}文字以上短くしてください。")
    for link in links(out):
        if not url_allowed(link):
            problems.append(f"楽天の返信に使えないURLです: {link}（https:// で始まる楽天関連ドメイン"
                            f"（{', '.join(URL_DOMAINS)}）のみ使えます）。")
    return out, problems, wrapped
