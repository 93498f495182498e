"""Which inbox a mall message goes to: rules in order, first match wins, else the active
helpdesk environment's forwarding address."""
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select

from plugin import helpdesk
from plugin.extensions import db
from plugin.invalid import InvalidInput
from plugin.normalize import is_valid_email
from sync.malls import MALLS
from sync.models import RoutingRule


@dataclass(frozen=True)
class Probe:
    """What routing looks at in one message."""

    shop_id: int | None = None
    mall: str | None = None
    title: str = ""
    body: str = ""
    inquiry_type: str = ""
    category: str = ""


@dataclass(frozen=True)
class Decision:
    """The chosen inbox address and the rule that chose it (None = the default)."""

    address: str | None
    rule: RoutingRule | None


def _fold(text):
    # NFKC + casefold: full-width "ＳＡＬＥ" and half-width "sale" match the same keyword.
    return unicodedata.normalize("NFKC", text or "").casefold()


def matches(rule, probe):
    """True when every condition the rule sets holds for the message."""
    if rule.shop_id is not None and rule.shop_id != probe.shop_id:
        return False
    if rule.mall and rule.mall != probe.mall:
        return False
    if rule.keyword:
        keyword = _fold(rule.keyword)
        if keyword not in _fold(probe.title) and keyword not in _fold(probe.body):
            return False
    if rule.inquiry_type:
        wanted = _fold(rule.inquiry_type)
        if wanted not in (_fold(probe.inquiry_type), _fold(probe.category)):
            return False
    return True


def rules(enabled_only=True):
    """Rules in evaluation order."""
    query = select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)
    if enabled_only:
        query = query.where(RoutingRule.enabled.is_(True))
    return list(db.session.scalars(query))


def default_address():
    """The active environment's forwarding address (None while it is not configured)."""
    return helpdesk.active_forwarding_address()


def route(probe, rule_list=None):
    """The Decision for one message: the first matching rule, else the default address."""
    for rule in rule_list if rule_list is not None else rules():
        if matches(rule, probe):
            return Decision(rule.address, rule)
    return Decision(default_address(), None)


def clean_values(values):
    """Validated rule fields from form/CLI input; raises InvalidInput with Japanese messages."""
    errors, out = {}, {}
    address = (values.get("address") or "").strip()
    if not is_valid_email(address):
        errors["address"] = "転送先には正しいメールアドレスを入力してください。"
    out["address"] = address
    mall = (values.get("mall") or "").strip() or None
    if mall is not None and mall not in MALLS:
        errors["mall"] = "モールは「楽天」「Yahoo!」または指定なしから選んでください。"
    out["mall"] = mall
    shop_id = values.get("shop_id")
    if shop_id in ("", None):
        out["shop_id"] = None
    else:
        try:
            out["shop_id"] = int(shop_id)
        except (TypeError, ValueError):
            errors["shop_id"] = "店舗を選び直してください。"
    for field, limit, label in (("keyword", 200, "キーワード"), ("inquiry_type", 100, "問い合わせ種別"),
                                ("note", 200, "メモ")):
        text = " ".join(str(values.get(field) or "").split())
        if len(text) > limit:
            errors[field] = f"{label}は{limit}文字以内で入力してください。"
        out[field] = text or None
    out["enabled"] = bool(values.get("enabled", True))
    if errors:
        raise InvalidInput(errors)
    return out


def add_rule(values):
    """Append a rule at the end of the list (flushed, not committed)."""
    data = clean_values(values)
    last = db.session.scalar(select(func.max(RoutingRule.position))) or 0
    rule = RoutingRule(position=last + 1, **data)
    db.session.add(rule)
    db.session.flush()
    return rule


def move(rule, delta):
    """Swap a rule with its neighbour above (-1) or below (+1) (not committed)."""
    ordered = rules(enabled_only=False)
    index = next(i for i, r in enumerate(ordered) if r.id == rule.id)
    other = index + delta
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, item in enumerate(ordered, start=1):
        item.position = position
