"""What every staff page must get right in a real browser, and the list of pages to look at.

Pages come from the app's url_map: every GET route without arguments, and every route with
arguments filled from the seeded ids, so a new page is checked (or named as lacking an id) without
anyone adding it here. The checks: no horizontal overflow, no internal English key on screen, and
no server error that the page's script hides after load.
"""
import html.parser
import re

from flask import url_for

from plugin import audit_labels, mail_templates, settings
from plugin.outbox import STATES, history
from plugin.staff import ROLE_LABELS
from sync.replies.models import JOB_STATE_LABELS, MAIL_STATE_LABELS

# Endpoints that are not staff pages: files, machine interfaces, the public form, leaving.
NOT_PAGES = {"static", "health.healthz", "health.metrics_view", "api.members", "api.orders", "auth.logout",
             "admin.audit_csv", "forms.form", "forms.thanks", "admin.mail_template_preview"}  # forms: customers
_URL = re.compile(r"\b(?:https?|mailto):\S+")
_EMAIL = re.compile(r"[\w.+-]*@[\w.-]+")
_SNAKE = re.compile(r"(?<![\w/.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/-])")
_DOTTED = re.compile(r"(?<![\w/.-])([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*")
# State and kind codes that are plain English words (the snake_case ones are caught anyway).
_WORDS = {"staged", "queued", "sending", "sent", "failed", "dead", "discarded", "quarantined", "posting", "posted",
          "received", "reminder", "mall", "agent", "admin", "production", "demo", "rakuten", "yahoo"}


def internal_keys():
    """Prefixes of dotted codes (audit actions, setting keys) and the bare code words staff must not see."""
    dotted = set(audit_labels.ACTION_LABELS) | {d.key for d in settings.declared()}
    prefixes = {key.split(".", 1)[0] for key in dotted} | set(audit_labels.TOPICS)
    words = set(_WORDS) | set(STATES) | set(MAIL_STATE_LABELS) | set(JOB_STATE_LABELS) | set(ROLE_LABELS)
    words |= {k for k in (*history.KIND_LABELS, *mail_templates.KINDS) if "_" not in k}
    return prefixes, words


def visible_keys(text, prefixes, words):
    """The internal keys found in a page's visible text (URLs and e-mail addresses left out)."""
    text = _EMAIL.sub(" ", _URL.sub(" ", text))
    found = set(_SNAKE.findall(text))
    found |= {m.group(0) for m in _DOTTED.finditer(text) if m.group(1) in prefixes}
    found |= {w for w in re.findall(r"(?<![\w./-])[a-z]+(?![\w/-])", text) if w in words}
    return sorted(found)


_VOID = frozenset({"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area", "base", "embed",
                   "track"})


class _Alerts(html.parser.HTMLParser):
    """Collects the text of every element with role="alert" in server HTML."""

    def __init__(self):
        super().__init__()
        self.stack, self.alerts = [], []

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            return
        self.stack.append(len(self.alerts) if dict(attrs).get("role") == "alert" else None)
        if self.stack[-1] is not None:
            self.alerts.append("")

    def handle_endtag(self, tag):
        if tag not in _VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for index in {i for i in self.stack if i is not None}:
            self.alerts[index] += data


def server_alerts(body):
    """The non-empty texts of role="alert" elements in the HTML the server sent."""
    parser = _Alerts()
    parser.feed(body)
    return [a for a in (re.sub(r"\s+", "", t) for t in parser.alerts) if a]


def pages(app, ids):
    """[(endpoint, path)] of every staff page: GET routes without arguments, the rest filled from `ids`.

    Raises AssertionError naming routes whose arguments nothing seeded, so a new detail page
    cannot slip past the checks."""
    out, missing = [], []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
                continue
            query = ids.get("query", {}).get(rule.endpoint, {})
            if not rule.arguments:
                out.append((rule.endpoint, url_for(rule.endpoint, **query)))
                continue
            if not all(arg in ids for arg in rule.arguments):
                missing.append(rule.rule)
                continue
            for i in range(max(len(ids[arg]) for arg in rule.arguments)):
                values = {arg: ids[arg][min(i, len(ids[arg]) - 1)] for arg in rule.arguments}
                out.append((rule.endpoint, url_for(rule.endpoint, **values, **query)))
    assert not missing, f"seed ids for these pages in tests/browser/seeding.py: {missing}"
    return list(dict.fromkeys(out))
