"""Per-shop mail templates: sandboxed Jinja2, bracket aliases, checked when saved.

Shop staff know the bracket placeholders of Japanese shop tools (`[担当者名]`); they are
translated to Jinja expressions before rendering. A template is validated when it is saved
(unknown placeholders, syntax errors, unsafe expressions), so a mail never fails later.
"""
import re
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from plugin import clock
from plugin.extensions import db

# Every placeholder a template may use: namespace → attributes.
PLACEHOLDERS = {
    "shop": ("name", "code", "phone", "email"),
    "staff": ("name", "email"),
    "customer": ("name", "email", "tel"),
    "order": ("number",),
    "form": ("title", "slug", "url"),
    "inquiry": ("id", "message", "text", "submitted_at", "type", "title", "item_name"),
    "mall": ("label", "name"),
}

ALIASES = {
    "出店モール店舗名": "shop.name", "店舗名": "shop.name", "ショップ名": "shop.name",
    "担当者名": "staff.name", "店舗電話番号": "shop.phone", "店舗メールアドレス": "shop.email",
    "お客様名": "customer.name", "お客様メールアドレス": "customer.email", "お客様電話番号": "customer.tel",
    "注文番号": "order.number", "受注番号": "order.number",
    "お問い合わせ内容": "inquiry.message", "フォーム名": "form.title",
}
# `[…]` / `［…］` holding non-ASCII text is a placeholder; ASCII like `[1]` or `[x]` stays text.
_BRACKET = re.compile(r"[\[［]([^\[\]［］\s{}]{1,30})[\]］]")


@dataclass(frozen=True)
class Kind:
    """A template kind with its built-in default."""

    label: str
    subject: str
    body: str
    has_body: bool = True


KINDS = {
    "form_to_shop": Kind(
        "フォーム：店舗宛て通知",
        # The receipt number keeps two inquiries from sharing a subject (threaders group by subject).
        "{{ form.title }}（{% if customer.name %}{{ customer.name }} 様・{% endif %}受付番号 {{ inquiry.id }}）",
        "{{ form.title }}から新しいお問い合わせがありました。\n"
        "このメールに返信すると、お客様（{{ customer.email }}）に届きます。\n\n"
        "{{ inquiry.text }}\n\n受付番号: {{ inquiry.id }}\n受付日時: {{ inquiry.submitted_at }}\n"),
    "form_ack": Kind(
        "フォーム：お客様への自動返信",
        "【{{ shop.name }}】お問い合わせありがとうございます",
        "{{ customer.name }} 様\n\n"
        "このたびは{{ shop.name }}にお問い合わせいただき、誠にありがとうございます。\n"
        "以下の内容でお問い合わせを受け付けました。担当者より順次ご連絡いたします。\n\n"
        "――――――――――――――――\n{{ inquiry.text }}\n――――――――――――――――\n\n"
        "本メールは自動送信です。お心当たりのない場合は、お手数ですが破棄してください。\n\n"
        "{{ shop.name }}\n{% if shop.phone %}TEL: {{ shop.phone }}\n{% endif %}"
        "{% if shop.email %}E-mail: {{ shop.email }}\n{% endif %}"),
    # The inquiry number keeps two inquiries from sharing a subject (threaders group by subject).
    "mall_subject": Kind(
        "モール問い合わせの件名",
        "【{{ mall.label }}】{{ inquiry.type }} {{ inquiry.title or inquiry.item_name }} [{{ inquiry.id }}]",
        "", has_body=False),
}

SAMPLE = {
    "shop": {"name": "緑茶本舗", "code": "tea", "phone": "03-1234-5678", "email": "info@example.jp"},
    "staff": {"name": "佐藤 花子", "email": "sato@example.jp"},
    "customer": {"name": "山田 太郎", "email": "taro@example.jp", "tel": "090-1234-5678"},
    "order": {"number": "1001-20261123-0001"},
    "form": {"title": "お問い合わせフォーム", "slug": "contact", "url": "https://example.jp/forms/contact"},
    "inquiry": {"id": 1, "message": "注文した商品の到着日を教えてください。",
                "text": "お名前: 山田 太郎\nお問い合わせ内容:\n注文した商品の到着日を教えてください。",
                "submitted_at": "2026-11-23 12:00", "type": "商品問い合わせ", "title": "到着日について",
                "item_name": "有機緑茶 100g"},
    "mall": {"label": "楽天", "name": "楽天市場"},
}


class TemplateError(ValueError):
    """A template that cannot be saved; `messages` are Japanese, one per problem."""

    def __init__(self, messages):
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class MailTemplate(db.Model):
    __tablename__ = "mail_template"
    __table_args__ = (UniqueConstraint("shop_id", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    updated_at = mapped_column(DateTime, default=clock.now, onupdate=clock.now)
    updated_by: Mapped[str | None] = mapped_column(String(254))


class _Sandbox(SandboxedEnvironment):
    """The Jinja sandbox, also refusing `**` and huge repetitions (`'x' * 10**9`) that exhaust memory."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):
        sequence = isinstance(left, (str, list)) or isinstance(right, (str, list))
        if operator == "**" or sequence:
            raise SecurityError("this operator is not allowed in mail templates")
        return super().call_binop(context, operator, left, right)


_env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
                            finalize=lambda value: "" if value is None else value)


def to_jinja(text):
    """Replace bracket aliases by Jinja expressions; an unknown bracket placeholder is an error."""
    unknown = []

    def repl(match):
        target = ALIASES.get(match.group(1))
        if target:
            return "{{ " + target + " }}"
        if match.group(1).isascii():
            return match.group(0)
        unknown.append(match.group(0))
        return match.group(0)

    converted = _BRACKET.sub(repl, text or "")
    return converted, [f"不明な差し込み項目「{u}」があります。" for u in dict.fromkeys(unknown)]


def _placeholder_errors(ast):
    errors = []
    for name in sorted(meta.find_undeclared_variables(ast)):
        if name not in PLACEHOLDERS:
            errors.append(f"不明な差し込み項目「{{{{ {name} }}}}」があります。")
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        base = node.node
        attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        known = PLACEHOLDERS.get(base.name) if isinstance(base, nodes.Name) else None
        if known is not None and isinstance(attr, str) and attr not in known:
            errors.append(f"不明な差し込み項目「{{{{ {base.name}.{attr} }}}}」があります。")
    return errors


def check(source, field_label="本文"):
    """Problems of one template text, as Japanese messages (empty when it can be saved)."""
    converted, errors = to_jinja(source)
    try:
        ast = _env.parse(converted)
    except TemplateSyntaxError as exc:
        return errors + [f"{field_label}の{exc.lineno}行目に書式の誤りがあります（{exc.message}）。"]
    errors += _placeholder_errors(ast)
    if errors:
        return errors
    try:
        _env.from_string(converted).render(SAMPLE)
    except SecurityError:
        return [f"{field_label}に使用できない書き方（内部属性へのアクセスや巨大な繰り返し）が含まれています。"]
    except UndefinedError as exc:
        return [f"{field_label}に不明な差し込み項目があります（{exc.message}）。"]
    except Exception as exc:  # noqa: BLE001 - any render failure must be refused at save time
        return [f"{field_label}を差し込みできません（{exc}）。"]
    return []


def validate(kind, subject, body):
    """Raise TemplateError unless subject and body can be rendered for this kind."""
    if kind not in KINDS:
        raise TemplateError([f"テンプレートの種類「{kind}」はありません。"])
    errors = [] if (subject or "").strip() else ["件名を入力してください。"]
    errors += check(subject, "件名")
    if KINDS[kind].has_body:
        errors += check(body, "本文")
    if errors:
        raise TemplateError(errors)


def render_text(source, context):
    """Render one template text (bracket aliases allowed) in the sandbox."""
    converted, _ = to_jinja(source)
    return _env.from_string(converted).render(context)


def find(shop_id, kind):
    """The shop's saved template of this kind, or None (then the built-in default applies)."""
    return db.session.scalar(select(MailTemplate).where(MailTemplate.shop_id == shop_id, MailTemplate.kind == kind))


def source(shop_id, kind):
    """(subject, body) the shop uses for this kind: its own template or the built-in default."""
    row = find(shop_id, kind) if shop_id else None
    if row is not None:
        return row.subject, row.body
    return KINDS[kind].subject, KINDS[kind].body


def render(shop_id, kind, context):
    """(subject, body) rendered for a shop; the subject is one line."""
    subject, body = source(shop_id, kind)
    rendered_subject = " ".join(render_text(subject, context).split())
    return rendered_subject, render_text(body, context) if KINDS[kind].has_body else ""


def save(shop_id, kind, subject, body, actor=None):
    """Validate and store a shop's template (does not commit); raises TemplateError."""
    validate(kind, subject, body)
    row = find(shop_id, kind) or MailTemplate(shop_id=shop_id, kind=kind)
    row.subject, row.body, row.updated_by = subject.strip(), (body or "").replace("\r\n", "\n"), actor
    db.session.add(row)
    return row


def blank_context(**known):
    """Every placeholder empty, then the namespaces given (`shop={...}`) filled in: a template that
    passed validation never fails for want of a value its kind does not know."""
    ctx = {name: dict.fromkeys(attrs, "") for name, attrs in PLACEHOLDERS.items()}
    for name, values in known.items():
        ctx[name].update(values)
    return ctx


def sample_context(shop=None, staff=None):
    """The preview context: the real shop and staff where known, sample values elsewhere."""
    ctx = {key: dict(value) for key, value in SAMPLE.items()}
    if shop is not None:
        ctx["shop"].update(name=shop.name, code=shop.code, phone=shop.phone or "", email=shop.email or "")
    if staff is not None:
        ctx["staff"].update(name=getattr(staff, "name", None) or "", email=getattr(staff, "email", ""))
    return ctx
