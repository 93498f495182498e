"""Helpdesk environments (production / demo): inbox link, forwarding address, active switch.

Each environment is a group of runtime settings `helpdesk.<env>.<field>` (plugin.settings),
so the admin form, the `mallbridge helpdesk` commands, the history and the cache rules are
the same for both. `helpdesk.active` names the environment in use.
"""
import dataclasses
import logging
import string

from sqlalchemy.exc import SQLAlchemyError

from plugin import settings
from plugin.invalid import InvalidInput
from plugin.settings.types import SettingValueError, normalize_https_url

log = logging.getLogger(f"mallbridge.{__name__}")
ENVIRONMENTS = ("production", "demo")
ENV_LABELS = {"production": "本番環境", "demo": "デモ環境"}
FIELDS = ("url", "inbox_id", "forward_to", "link_template", "reply_from", "api_token", "address_book_id", "push")
DEFAULT_LINK = "{url}/tickets/#/{inbox_id}/tickets/open/p1"
DEMO_VALUES = {
    "url": "https://demo-shop.relationapp.jp",
    "inbox_id": 1,
    "forward_to": "demo-inbox@mail.relationapp.jp",
    # The demo shop's address (the demo helpdesk answers from it) and the demo agent's login, so a
    # reply sent to smtp-in in `make run` is taken (see README.md's tour).
    "reply_from": "info@yamadaen.example.jp, agent@example.jp",
}


@dataclasses.dataclass(frozen=True)
class Environment:
    """One helpdesk environment's settings (the API token stays encrypted until asked for)."""

    name: str
    url: str | None
    inbox_id: int | None
    forward_to: str | None
    link_template: str | None
    reply_from: tuple[str, ...]
    has_api_token: bool
    address_book_id: int | None
    push: bool
    active: bool

    @property
    def label(self):
        return ENV_LABELS[self.name]

    @property
    def complete(self):
        """URL and inbox ID are set: the inbox button can be shown."""
        return bool(self.url and self.inbox_id)

    @property
    def missing(self):
        """Japanese labels of the fields still empty (forwarding address included)."""
        return [settings.declaration(key(self.name, f)).label
                for f in ("url", "inbox_id", "forward_to") if not getattr(self, f)]

    def inbox_link(self):
        """The inbox URL for the member-page button, or None while incomplete."""
        if not self.complete:
            return None
        return render_link(self.link_template or DEFAULT_LINK, self.url, self.inbox_id)

    def api_token(self):
        """The decrypted helpdesk API token, or None."""
        return settings.get(key(self.name, "api_token")) if self.has_api_token else None

    def accepts_reply_from(self, address):
        """True when `address` is one of the helpdesk's reply senders (an address or an @domain)."""
        address = (address or "").strip().lower()
        if "@" not in address:
            return False
        domain = "@" + address.rpartition("@")[2]
        return any(entry == address or entry == domain for entry in self.reply_from)

    def as_dict(self):
        """Plain values for JSON/CLI output (no token)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)} | {
            "complete": self.complete, "inbox_link": self.inbox_link()}


def key(env, field):
    """The settings key of an environment field."""
    return f"helpdesk.{env}.{field}"


def _check_inbox_id(value):
    if value < 1:
        return "受信箱IDは1以上の整数で入力してください。"
    return None


def _check_positive(value):
    return None if value >= 1 else "1以上の整数で入力してください。"


def render_link(template, url, inbox_id):
    """Fill {url} and {inbox_id} into a link template."""
    return template.format(url=url, inbox_id=inbox_id)


def _check_template(value):
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError:
        return "リンクのテンプレートの { } の対応が正しくありません。"
    unknown = names - {"url", "inbox_id"}
    if unknown or any(not n for n in names):
        return "テンプレートで使えるのは {url} と {inbox_id} だけです。"
    sample = render_link(value, "https://example.relationapp.jp", 1)
    head = sample.partition("#")[0]
    try:
        normalize_https_url(head.split("?", 1)[0])
    except SettingValueError as exc:
        return "テンプレートから作られるURLが正しくありません: " + str(exc)
    return None


def _environment_section(env):
    """The settings of one helpdesk environment (production or demo)."""
    return settings.section(
        f"helpdesk.{env}", f"ヘルプデスク（{ENV_LABELS[env]}）",
        settings.setting(key(env, "url"), type="url", default=None,
                         label="ヘルプデスクのURL", help="例: https://example.relationapp.jp（https のみ）"),
        settings.setting(key(env, "inbox_id"), type="int", default=None,
                         label="受信箱ID", validate=_check_inbox_id,
                         help="受信箱を開いたときのURL …/tickets/#/<受信箱ID>/… の数字です。"),
        settings.setting(key(env, "forward_to"), type="email", default=None,
                         label="受信箱の転送用アドレス",
                         help="ヘルプデスクの受信箱設定に表示される転送用メールアドレスです。"),
        settings.setting(key(env, "link_template"), type="str", default=None,
                         label="受信箱ボタンのリンク（任意）", validate=_check_template,
                         help="空欄なら {url}/tickets/#/{inbox_id}/tickets/open/p1 を開きます。"),
        settings.setting(key(env, "reply_from"), type="senders", default=None,
                         label="返信の差出人",
                         help="担当者の返信メールの差出人アドレス、または @ドメイン（カンマ区切り）。"
                              "ここに含まれる差出人からの返信だけをモールのお客様に送ります。"),
        settings.setting(key(env, "api_token"), type="str", default=None, secret=True,
                         label="APIトークン（任意）",
                         help="ヘルプデスクのOpen APIのトークンです。アドレス帳への会員の送信と接続テストに使います。"
                              "暗号化して保存します。"),
        settings.setting(key(env, "address_book_id"), type="int", default=None, validate=_check_positive,
                         label="アドレス帳ID",
                         help="会員を送るヘルプデスクのアドレス帳（顧客グループ）のIDです。"),
        settings.setting(key(env, "push"), type="bool", default=False,
                         label="会員をアドレス帳に送る",
                         help="オンにすると、モールの問い合わせのお客様と会員を、APIトークンでこのアドレス帳に登録・更新します。"),
    )


SETTINGS = [
    settings.section("helpdesk", "ヘルプデスク",
                     settings.setting("helpdesk.active", type="choice", default="production",
                                      label="使用中の環境", choices=[(e, ENV_LABELS[e]) for e in ENVIRONMENTS],
                                      help="受信箱ボタンと転送先に使う環境です。")),
    *(_environment_section(env) for env in ENVIRONMENTS),
]


def environment(name):
    """The Environment named `name` ("production" or "demo")."""
    if name not in ENVIRONMENTS:
        raise KeyError(f"unknown helpdesk environment {name!r} (use production or demo)")
    return Environment(
        name=name,
        url=settings.get(key(name, "url")),
        inbox_id=settings.get(key(name, "inbox_id")),
        forward_to=settings.get(key(name, "forward_to")),
        link_template=settings.get(key(name, "link_template")),
        reply_from=tuple(settings.get(key(name, "reply_from")) or ()),
        has_api_token=settings.is_set(key(name, "api_token")),
        address_book_id=settings.get(key(name, "address_book_id")),
        push=bool(settings.get(key(name, "push"))),
        active=settings.get("helpdesk.active") == name,
    )


def active_name():
    """Name of the active environment."""
    return settings.get("helpdesk.active")


def active_environment():
    """The active Environment."""
    return environment(active_name())


def active_forwarding_address():
    """The active environment's inbox forwarding address, or None."""
    return active_environment().forward_to


def inbox_link():
    """URL of the active environment's inbox, or None while it is incomplete."""
    return active_environment().inbox_link()


def update_environment(name, values, actor=None):
    """Validate and save some fields of an environment (keys are FIELDS); returns changed keys.

    Raises InvalidInput with errors keyed by field name; nothing is saved then.
    """
    environment(name)
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise KeyError(f"unknown helpdesk fields: {', '.join(sorted(unknown))}")
    try:
        return settings.set_many({key(name, f): v for f, v in values.items()}, actor=actor)
    except InvalidInput as exc:
        raise InvalidInput({k.rsplit(".", 1)[1]: m for k, m in exc.errors.items()}) from None


def activate(name, actor=None):
    """Make `name` the active environment; InvalidInput naming the missing fields while it is incomplete.

    Complete for activation means URL, inbox ID *and* forwarding address: without the forwarding
    address, mall and form mail would silently stop reaching the inbox, and without URL and inbox
    ID the member pages lose their inbox button. Nothing changes when refused.
    """
    env = environment(name)
    if env.missing:
        fields = "」「".join(env.missing)
        raise InvalidInput({"active": f"{env.label}は「{fields}」が未設定のため、使用する環境にできません。"
                                      f"先に{env.label}の設定を保存してください。"})
    return settings.set_value("helpdesk.active", name, actor=actor)


def configure_demo(actor="demo seed"):
    """Fill the demo environment with believable values and make it active (for `demo seed`)."""
    update_environment("demo", dict(DEMO_VALUES), actor=actor)
    activate("demo", actor=actor)
    return environment("demo")


def banners():
    """Banners about the helpdesk environment (e.g. while the demo environment is active)."""
    try:
        demo = active_name() == "demo"
    except SQLAlchemyError:
        # A database without the settings tables (not upgraded yet) must not break every page.
        log.warning("helpdesk settings unavailable; run `mallbridge db upgrade`", exc_info=True)
        return []
    if demo:
        return ["デモ環境のヘルプデスクが有効です。本番の受信箱には転送されません（管理 › ヘルプデスク環境で切り替え）。"]
    return []
