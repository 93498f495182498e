"""The lookup pages the helpdesk opens from its external-system menu: /lookup/members, /lookup/orders
and their ebisumart-style aliases. Thin: who is asking, what is asked, then lookups.search."""
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from lookups import params, search
from lookups.results import Kind, SearchResult
from lookups.serialize import Links, member_json, order_json
from plugin import audit, metrics, pool, settings
from plugin.errors import error_response, wants_json
from plugin.extensions import db
from plugin.tokens import bearer_token

bp = Blueprint("lookups", __name__, template_folder="templates")
SETTINGS = [settings.section(
    "lookups", "顧客検索",
    settings.setting(
        "lookups.encoding", type="choice", default="server", label="検索パラメータの文字コード",
        choices=[("server", "サーバー設定に従う（MALLBRIDGE_LOOKUP_ENCODING、通常は UTF-8）"), ("utf-8", "UTF-8"),
                 ("shift_jis", "Shift_JIS"), ("euc-jp", "EUC-JP")],
        help="ヘルプデスクが検索パラメータを Shift_JIS や EUC-JP で送る場合に選びます。URLの charset パラメータが優先されます。"),
)]
METHODS = ["GET", "POST", "PUT"]


def _login_redirect():
    """Back to this lookup after login: the raw query (and form body) keep their charset."""
    target = request.path
    # Raw Shift_JIS/EUC-JP bytes are percent-encoded, not replaced, so they decode after login.
    raw = [params.quote_raw(request.query_string)]
    if request.method in ("POST", "PUT") and "json" not in (request.content_type or ""):
        raw.append(params.quote_raw(request.get_data()))
    query = "&".join(r for r in raw if r)
    return redirect(url_for("auth.login", next=target + ("?" + query if query else "")))


def _actor() -> tuple[str, int | None] | None:
    """(audit actor, user id) of the logged-in agent or of the API token; None for nobody."""
    if current_user.is_authenticated:
        return current_user.email, current_user.id
    token = bearer_token()
    return (f"token:{token.name}", None) if token else None


def lookup(kind: Kind, shop_code: str | None = None):
    """Shared flow: authenticate, parse, search and audit on one connection, answer in HTML or JSON."""
    actor = _actor()
    if actor is None:
        return error_response(401) if wants_json() else _login_redirect()
    body = request.get_data() if request.method in ("POST", "PUT") else b""
    try:
        q = params.parse(request.query_string, body, request.content_type, _default_charset())
        if shop_code:
            q.shop = shop_code
        # The lookups' own pool (plugin/pool.py): its audit commits do not wait for a disk flush.
        with search.connection(pool.lookup_engine(db.engine)) as conn:
            entry = audit.entry(f"lookup.{kind}", q.as_dict(), actor=actor[0], user_id=actor[1])
            result = search.search(conn, kind, q, current_app.config["LOOKUP_ORDER_LIMIT"], audit=entry)
    except params.ParamError as exc:
        metrics.LOOKUPS.labels(kind, "bad_request").inc()
        if wants_json():
            return jsonify(error={"status": 400, "message": exc.message, "param": exc.param}), 400
        return render_template(f"lookups/{kind}.html", result=SearchResult(kind), error=exc.message,
                               form=_form_values()), 400
    except search.UnknownShop as exc:
        metrics.LOOKUPS.labels(kind, "unknown_shop").inc()
        return error_response(404, f"店舗コード「{exc.args[0]}」の店舗はありません。")
    metrics.LOOKUPS.labels(kind, "found" if result.count else "none").inc()
    if wants_json():
        links = Links()
        items = ([member_json(m, links) for m in result.members] if kind == "members"
                 else [order_json(o, links) for o in result.orders])
        return jsonify({"query": q.as_dict(), kind: items, "truncated": result.truncated})
    return render_template(f"lookups/{kind}.html", result=result, error=None, form=q.as_dict())


def _default_charset():
    """The admin's lookup-encoding setting, else the deployment default."""
    chosen = settings.get("lookups.encoding")
    return current_app.config["LOOKUP_ENCODING"] if chosen in (None, "server") else chosen


def _form_values():
    return {k: request.values.get(k, "") for k in (*params.SEARCH_KEYS, "shop")}


@bp.route("/lookup/members", methods=METHODS)
def members():
    """Members by email / tel / customer_code (optional shop)."""
    return lookup("members")


@bp.route("/lookup/orders", methods=METHODS)
def orders():
    """Orders by email / tel / customer_code (optional shop)."""
    return lookup("orders")


@bp.route("/<shop_code>/admin_relation_member_search.html", methods=METHODS)
def ebisumart_members(shop_code):
    """ebisumart-compatible alias of the member lookup, scoped to one shop."""
    return lookup("members", shop_code)


@bp.route("/<shop_code>/admin_relation_order_search.html", methods=METHODS)
def ebisumart_orders(shop_code):
    """ebisumart-compatible alias of the order lookup, scoped to one shop."""
    return lookup("orders", shop_code)
