"""The fake helpdesk's HTML page: every address book and its newest contacts (refreshes itself)."""
from flask import Blueprint, current_app, render_template_string, request

bp = Blueprint("fake_helpdesk_page", __name__)
SHOWN = 200

PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>fake-helpdesk アドレス帳</title>
<style>body{font-family:sans-serif;margin:1.5rem}table{border-collapse:collapse;font-size:.9rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top}th{background:#f3f3f3}
.muted{color:#666}</style></head><body>
<h1>fake-helpdesk アドレス帳</h1>
<p class="muted">mallbridge のテスト用のヘルプデスクです（Open API: <code>{{ base }}/api/v2</code>、
1分あたり {{ limit or "無制限" }} 回）。5秒ごとに更新します。</p>
{% for id, book in books %}
<section id="book-{{ id }}">
<h2>アドレス帳 {{ id }}「{{ book.name }}」 <span class="muted">{{ book.contacts|length }}件</span></h2>
{% if book.contacts %}
<table><thead><tr><th>ID</th><th>顧客コード (system_id1)</th><th>氏名</th><th>カナ</th><th>メールアドレス</th>
<th>アーカイブ済みメール</th><th>電話番号</th><th>アーカイブ済み電話</th><th>更新日時 (UTC)</th></tr></thead><tbody>
{% for c in newest(book) %}<tr>
<td>{{ c.customer_id }}</td><td>{{ c.system_id1 or "" }}</td>
<td>{{ c.last_name }} {{ c.first_name }}</td><td>{{ c.last_name_kana }} {{ c.first_name_kana }}</td>
<td>{% for e in c.emails %}{{ e.email }}<br>{% endfor %}</td>
<td>{% for e in c.archived_emails %}{{ e.email }}<br>{% endfor %}</td>
<td>{% for t in c.tels %}{{ t.tel }}<br>{% endfor %}</td>
<td>{% for t in c.archived_tels %}{{ t.tel }}<br>{% endfor %}</td>
<td>{{ c.last_updated_at }}</td></tr>{% endfor %}
</tbody></table>
{% if book.contacts|length > shown %}<p class="muted">新しい {{ shown }} 件を表示しています。</p>{% endif %}
{% else %}<p class="muted">まだコンタクトはありません。</p>{% endif %}
</section>
{% endfor %}
</body></html>"""


@bp.get("/")
def index():
    """The address books, newest contacts first."""
    st = current_app.extensions["fake_helpdesk"]
    with st.lock:
        books = [(i, {"name": b["name"], "contacts": dict(b["contacts"])}) for i, b in sorted(st.books.items())]
        limit = st.limit

    def newest(book):
        return sorted(book["contacts"].values(), key=lambda c: (c["last_updated_at"], c["customer_id"]),
                      reverse=True)[:SHOWN]
    return render_template_string(PAGE, books=books, newest=newest, shown=SHOWN, limit=limit,
                                  base=request.host_url.rstrip("/"))
