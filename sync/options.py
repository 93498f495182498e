"""Runtime settings of the mall side (declared once; edited on the admin settings page)."""
from plugin import settings

SECTION = "sync"
FROM_MODES = [("relay", "中継アドレス（既定）"), ("customer", "お客様のアドレス（Reply-To対応のヘルプデスクのみ）")]


def _positive(value):
    return None if value >= 1 else "1以上の整数で入力してください。"


def _not_negative(value):
    return None if value >= 0 else "0以上の整数で入力してください。"


SETTINGS = [settings.section(
    SECTION, "モール連携",
    settings.setting("sync.poll_seconds", type="int", default=30, validate=_positive,
                     label="取得間隔（秒）", help="各モールアカウントを確認する間隔です。"),
    settings.setting("sync.backfill_days", type="int", default=90, validate=_positive,
                     label="初回取り込み日数",
                     help="最初の接続で過去何日分の問い合わせを取り込むか。取り込んだメールは管理者が承認するまで送信されません。"),
    settings.setting("sync.pacing_ms", type="int", default=1000, validate=_not_negative,
                     label="API呼び出し間隔（ミリ秒）",
                     help="アカウントごとのモールAPI呼び出しの最小間隔です（楽天の目安は1秒に1回）。0で無制限。"),
    settings.setting("sync.from_mode", type="choice", default="relay", choices=FROM_MODES,
                     label="差出人の形式",
                     help="中継: 差出人もReply-Toも署名付きの返信用アドレス。お客様: 差出人は楽天の中継アドレス、Reply-Toが返信用アドレス。"),
    settings.setting("sync.attachment_max_kb", type="int", default=5120, validate=_positive,
                     label="添付ファイルの上限（KB）",
                     help="これより大きい添付ファイルはメールに添付せず、モール管理画面へのリンクを本文に記載します。"),
    settings.setting("sync.reminder_to", type="email", default=None,
                     label="期限通知の宛先（管理者）", help="ライセンスキー・トークンの期限通知を送るアドレスです。"),
    settings.setting("sync.reminder_fallback", type="email", default=None,
                     label="期限通知の予備宛先", help="管理者が不在でも気づけるよう、同じ通知を送るもう一つのアドレスです。"),
    settings.setting("sync.rmesse_base_price", type="int", default=0, validate=_not_negative,
                     label="R-Messe 月額基本料（円）", help="プランの基本料金。100会話まで含まれ、超過分は1会話10円で見積もります。"),
)]


def get(key):
    """A sync setting by its short name, e.g. get("poll_seconds")."""
    return settings.get("sync." + key)
