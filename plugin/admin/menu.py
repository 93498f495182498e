"""The admin menu in groups a person can scan (概要・モール・メール・設定・スタッフ), and which entry
the current page belongs to. Flask-free: the blueprint passes its entries, the path and url_for."""

# Group label → the endpoints it holds, in menu order. An endpoint registered with menu_entry()
# but missing here still shows, under "その他", so a new page is never lost from the menu.
GROUPS = (
    ("概要", ("admin.dashboard",)),
    ("モール", ("admin.mall_accounts", "admin.routing_rules", "admin.replies")),
    ("メール", ("admin.outbox", "admin.mail_template_list", "admin.forms")),
    ("設定", ("admin.helpdesk_page", "admin.settings_page", "admin.settings_history", "admin.tokens")),
    ("スタッフ・記録", ("admin.users", "admin.audit_log")),
)
OTHER = "その他"


def _current(links, path):
    """The href the page at `path` belongs to: the longest menu href that is a prefix of it."""
    best = None
    for href in links:
        exact = path == href
        below = href != "/admin/" and path.startswith(href.rstrip("/") + "/")
        if (exact or below) and (best is None or len(href) > len(best)):
            best = href
    return best


def grouped(entries, path, url_for):
    """[(group label, [(href, label, is_current), …]), …] for the registered (endpoint, label) entries."""
    labels = dict(entries)
    hrefs = {endpoint: url_for(endpoint) for endpoint in labels}
    current = _current(hrefs.values(), path)
    placed, groups = set(), []
    for group, endpoints in GROUPS:
        links = [e for e in endpoints if e in labels]
        placed.update(links)
        if links:
            groups.append((group, links))
    rest = [e for e, _ in entries if e not in placed]
    if rest:
        groups.append((OTHER, rest))
    return [(group, [(hrefs[e], labels[e], hrefs[e] == current) for e in links]) for group, links in groups]
