"""Reply intake scales linearly with the mail's size: each step on hostile input of 100 KB and of
1 MB, side by side in one run; a linear step takes about 10× as long on 10× the input (a
quadratic one about 100×). The floor is `str.split` over the same text.

    .venv/bin/python -m bench.replies            # or: make bench-replies
"""
import statistics
import time
from email.message import EmailMessage

from sync.replies.parse import parse_bytes
from sync.replies.quotes import strip_quotes
from sync.replies.rules import wrap_line
from sync.replies.text import html_to_text, unflow

SIZES = (100_000, 1_000_000)


def _mail(n):
    msg = EmailMessage()
    msg["From"] = "agent@helpdesk.example"
    msg.set_content("あ" * n)
    return msg.as_bytes()


CASES = {
    "floor: str.split": lambda n: ("x " * (n // 2), str.split),
    "wrap_line (Rakuten 300)": lambda n: ("あ" * n, lambda s: wrap_line(s, 300)),
    "wrap_line, many links": lambda n: ("http://a.b " * (n // 11), lambda s: wrap_line(s, 300)),
    "html_to_text, unclosed tags": lambda n: ("<a " * (n // 3), html_to_text),
    "html_to_text, real-ish HTML": lambda n: ("<div><p>在庫&amp;送料</p><br></div>" * (n // 33), html_to_text),
    "strip_quotes, quoted lines": lambda n: ("> 在庫は？\n" * (n // 7), strip_quotes),
    "unflow (delsp)": lambda n: ("ある 文章 \n" * (n // 7), lambda s: unflow(s, True)),
    "parse_bytes, one long line": lambda n: (_mail(n), parse_bytes),
}


def _time(fn, arg, rounds=3):
    runs = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(arg)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main():
    """Print a table: seconds at each size and the ratio (≈10 = linear)."""
    print(f"{'step':32} {'100 KB s':>10} {'1 MB s':>10} {'ratio':>7}")
    for name, build in CASES.items():
        times = []
        for n in SIZES:
            arg, fn = build(n)
            times.append(_time(fn, arg))
        print(f"{name:32} {times[0]:10.4f} {times[1]:10.4f} {times[1] / times[0]:7.1f}")


if __name__ == "__main__":
    main()
