"""Admin page for routing rules: list in order, add, edit, move, delete, and a test box
("which inbox would this message go to?")."""
from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from plugin import audit
from plugin.admin import bp, menu_entry
from plugin.extensions import db
from plugin.invalid import InvalidInput
from plugin.models import Shop
from sync import routing
from sync.malls import LABELS as MALL_LABELS
from sync.models import RoutingRule

FIELDS = ("shop_id", "mall", "keyword", "inquiry_type", "address", "note")


def _page(errors=None, values=None, probe=None, decision=None, status=200):
    shops = list(db.session.scalars(select(Shop).order_by(Shop.code)))
    return render_template("admin/routing.html", rules=routing.rules(enabled_only=False), labels=MALL_LABELS,
                           shop_options=[("", "指定なし")] + [(str(s.id), s.name) for s in shops],
                           mall_options=[("", "指定なし")] + list(MALL_LABELS.items()),
                           errors=errors or {}, values=values or {}, probe=probe,
                           decision=decision, default=routing.default_address()), status


@bp.route("/routing", methods=["GET"])
def routing_rules():
    """The rules in evaluation order, the add form and the test box."""
    return _page()


@bp.route("/routing", methods=["POST"])
def routing_add():
    """Append a rule."""
    values = {f: request.form.get(f, "") for f in FIELDS}
    try:
        rule = routing.add_rule(values)
        audit.record("routing.add", query={"id": rule.id}, commit=False)
        db.session.commit()
    except InvalidInput as exc:
        db.session.rollback()
        return _page(errors=exc.errors, values=values, status=400)
    flash("振り分けルールを追加しました。")
    return redirect(url_for("admin.routing_rules"))


@bp.route("/routing/<int:rule_id>", methods=["POST"])
def routing_change(rule_id):
    """Move up/down, enable/disable or delete one rule."""
    rule = db.session.get(RoutingRule, rule_id)
    if rule is None:
        abort(404)
    action = request.form.get("action")
    if action in ("up", "down"):
        routing.move(rule, -1 if action == "up" else 1)
    elif action == "toggle":
        rule.enabled = not rule.enabled
    elif action == "delete":
        db.session.delete(rule)
    else:
        abort(400)
    audit.record("routing." + action, query={"id": rule_id}, commit=False)
    db.session.commit()
    return redirect(url_for("admin.routing_rules"))


@bp.route("/routing/test", methods=["POST"])
def routing_test():
    """Show which inbox a message with these properties would go to."""
    shop_id = request.form.get("shop_id") or None
    probe = routing.Probe(shop_id=int(shop_id) if shop_id and shop_id.isdigit() else None,
                          mall=request.form.get("mall") or None, title=request.form.get("title", ""),
                          body=request.form.get("body", ""), inquiry_type=request.form.get("inquiry_type", ""),
                          category=request.form.get("inquiry_type", ""))
    return _page(probe=probe, decision=routing.route(probe))
menu_entry("admin.routing_rules", "振り分けルール")
