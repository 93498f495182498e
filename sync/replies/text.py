"""A mail part's text as the agent wrote it: HTML turned into plain text, and `format=flowed`
(RFC 3676) soft line breaks joined.

Both run on text from outside, so both are single passes: every step consumes what it looked
at. (The standard library's HTMLParser is not used: on an unclosed tag such as `<a <a <a …` it
rescans the rest of the input for every `<`, and 100 KB of that took minutes.)
"""
import html
import re

# Elements whose content is not text for the customer.
_RAW = {name: re.compile(rf"</{name}\b", re.IGNORECASE) for name in ("script", "style", "title")}
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"})
_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
                     "hr", "pre"})
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)")
_CLASS = re.compile(r"""\sclass\s*=\s*["']?([^"'>]*)""", re.IGNORECASE)
_SPACE = re.compile(r"[ \t\r\n\f]+")


def _tokens(source):
    """("text", s), ("start", name, tag) and ("end", name) in document order, in one pass."""
    i, n = 0, len(source)
    while i < n:
        lt = source.find("<", i)
        if lt == -1:
            yield ("text", source[i:])
            return
        if lt > i:
            yield ("text", source[i:lt])
        if source.startswith("<!--", lt):
            end = source.find("-->", lt + 4)
            i = n if end == -1 else end + 3  # an unclosed comment runs to the end, as in browsers
            continue
        tag = _TAG.match(source, lt)
        if tag is None and source[lt + 1:lt + 2] not in ("!", "?", "/"):
            yield ("text", "<")  # "a < b", "<3": a plain character
            i = lt + 1
            continue
        gt = source.find(">", lt + 1)
        if gt == -1:  # never closed: no tag can follow, the rest is text
            yield ("text", source[lt:])
            return
        i = gt + 1
        if tag is None:
            continue  # <!doctype>, <?xml?>, </ >: nothing to show
        closing, name = tag.group(1), tag.group(2).lower()
        if closing:
            yield ("end", name)
            continue
        yield ("start", name, source[lt:i])
        if name in _RAW and not source.endswith("/>", 0, i):
            end = _RAW[name].search(source, i)
            if end is None:
                return
            close = source.find(">", end.end())
            i = n if close == -1 else close + 1


def html_to_text(source):
    """Visible text of an HTML body: blocks and <br> become newlines, quotes become `>` lines,
    Gmail's quote container is left out."""
    out, skip, quote = [], 0, 0
    for token in _tokens(source or ""):
        kind, name = token[0], token[1] if len(token) > 1 else ""
        if kind == "text":
            if skip:
                continue
            data = _SPACE.sub(" ", html.unescape(token[1]))
            if quote and (not out or out[-1].endswith("\n")):
                data = "> " + data.lstrip()  # quoted HTML becomes `>` lines, which the quote stripper removes
            out.append(data)
        elif kind == "start":
            classes = _CLASS.search(token[2])
            if skip or (classes and "gmail_quote" in classes.group(1)):
                if name not in _VOID:
                    skip += 1  # count nested elements so the container's own end tag ends the skip
                continue
            quote += name == "blockquote"
            if name in _BLOCKS:
                out.append("\n")
        else:
            if skip:
                skip -= name not in _VOID
                continue
            if name == "blockquote":
                quote = max(0, quote - 1)
            if name in _BLOCKS and name != "br":
                out.append("\n")
    lines = [line.strip(" ") for line in "".join(out).replace("\xa0", " ").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def unflow(text, delsp=False):
    """Undo RFC 3676 `format=flowed`: a line ending in a space continues on the next line of the
    same quote depth (with delsp=yes that space was added by the sender and goes too); space-
    stuffing is removed; the signature separator "-- " is never joined. Quoted lines come back
    as "> " lines."""
    out, parts, depth = [], None, 0
    for line in text.replace("\r\n", "\n").split("\n"):
        level = len(line) - len(line.lstrip(">"))
        body = line[level:]
        body = body.removeprefix(" ")  # space-stuffed (or the space after the quote marks)
        soft = body.endswith(" ") and body != "-- "
        if parts is not None and level != depth:
            out.append(_quoted(depth, "".join(parts)))  # a depth change ends a paragraph (RFC 3676 4.5)
            parts = None
        if parts is None:
            parts, depth = [], level
        parts.append(body[:-1] if soft and delsp else body)
        if not soft:
            out.append(_quoted(depth, "".join(parts)))
            parts = None
    if parts is not None:
        out.append(_quoted(depth, "".join(parts)))
    return "\n".join(out)


def _quoted(depth, line):
    return f"{'>' * depth} {line}" if depth else line
