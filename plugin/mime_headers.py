"""Header lines as mail programs read them right: RFC 2047 encoded words that keep every space,
and no line longer than 76 characters (RFC 2047 §2).

Why not the email package's own folder (policy.SMTP, even with max_line_length=76): on the
Python versions mallbridge runs on it puts the space between two Japanese words *between*
two encoded words, as folding whitespace that every RFC 2047 decoder drops (「お問い合わせ 山田」
arrives as 「お問い合わせ山田」 in about one long subject in twelve), and it turns an ASCII word
too long for a line, such as a long Message-ID in References, into an encoded word that breaks
threading. So the whole text is encoded, spaces included, and the lines are laid out here;
`Folded` keeps them as they are whatever policy later writes the message.
"""
import base64

LIMIT = 76  # RFC 2047: a line holding an encoded word is at most 76 characters
FOLD = "\n "  # a line break and the space that starts the next line; `Folded.fold` writes linesep
_WORD_OVERHEAD = len("=?utf-8?b??=")


class Folded(str):
    """A header value that writes itself as laid out here; str() is the decoded text, so code
    reading the header (outbox, tests) sees what a person would."""

    def __new__(cls, name, text, folded):
        obj = super().__new__(cls, text)
        obj.name, obj.folded = name, folded
        return obj

    def __getnewargs__(self):
        return (self.name, str(self), self.folded)

    def fold(self, *, policy):
        """The header line(s) as the generator writes them."""
        head = f"{self.name}:" if self.folded.startswith(FOLD) else f"{self.name}: "
        return f"{head}{self.folded.replace(FOLD, policy.linesep + ' ')}{policy.linesep}"


def needs_encoding(text):
    """Non-ASCII text, or ASCII that a decoder would take for an encoded word (a customer who
    typed `=?utf-8?b?…?=` must see it again as typed, not decoded)."""
    return not text.isascii() or "=?" in text


def _bytes_for(width):
    """The most UTF-8 bytes one base64 encoded word of `width` characters can hold."""
    return max((width - _WORD_OVERHEAD) // 4 * 3, 3)


def encoded_words(text, first_width=LIMIT - 1, width=LIMIT - 1):
    """`text` as base64 encoded words, the first at most `first_width` characters long, the others
    at most `width`; a character is never split between two words."""
    chunks, chunk, room = [], b"", _bytes_for(first_width)
    for char in text:
        data = char.encode("utf-8")
        if chunk and len(chunk) + len(data) > room:
            chunks.append(chunk)
            chunk, room = b"", _bytes_for(width)
        chunk += data
    if chunk:
        chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(c).decode('ascii')}?=" for c in chunks]


def _pack(pieces, start):
    """Join `pieces` with spaces, breaking a line (FOLD) before a piece that would pass LIMIT; `start`
    is how much of the first line is taken already. A piece longer than a line stays whole; one
    that fits only a line of its own (a long Message-ID) starts right after the colon, as the
    email package does for Message-ID itself."""
    out, used = "", start
    for piece in pieces:
        if not out and start + len(piece) > LIMIT >= 1 + len(piece):
            out, used = FOLD + piece, 1 + len(piece)
        elif not out:
            out, used = piece, start + len(piece)
        elif used + 1 + len(piece) <= LIMIT:
            out, used = f"{out} {piece}", used + 1 + len(piece)
        else:
            out, used = f"{out}{FOLD}{piece}", 1 + len(piece)
    return out


def text_header(name, text):
    """A one-line text value (Subject, X-Mallbridge-…, References) as a Folded header."""
    start = len(name) + 2
    if needs_encoding(text):
        return Folded(name, text, FOLD.join(encoded_words(text, LIMIT - start)))
    # Plain ASCII folds at its spaces; the space at a break is the one that unfolding restores.
    return Folded(name, text, _pack(text.split(" "), start))


def address_header(name, addresses):
    """Addresses (headerregistry.Address) as a Folded header, each after the first on a new line."""
    lines = []
    for i, addr in enumerate(addresses):
        start = len(name) + 2 if i == 0 else 1
        comma = "," if i < len(addresses) - 1 else ""
        if addr.display_name and needs_encoding(addr.display_name):
            words = encoded_words(addr.display_name, LIMIT - start)
            lines.append(_pack([*words, f"<{addr.addr_spec}>{comma}"], start))
        else:
            lines.append(str(addr) + comma)
    return Folded(name, ", ".join(str(a) for a in addresses), FOLD.join(lines))
