"""Runtime settings of the reply path (declared once; edited on the admin settings page)."""
import re

from plugin import settings
from plugin.queue import read_schedule, schedule_setting

SECTION = "replies"


def _positive(value):
    return None if value >= 1 else "1以上の整数で入力してください。"


def _base_url(value):
    if value and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value.strip()):
        return "http:// または https:// で始まるURL（例: https://mallbridge.example.jp）を入力してください。"
    return None


SETTINGS = [settings.section(
    SECTION, "モールへの返信",
    settings.setting("replies.public_url", type="str", default=None, validate=_base_url,
                     label="mallbridgeの公開URL",
                     help="受信箱へのメールに載せる「この問い合わせを完了にする」リンクの先頭部分です（例: https://mallbridge.example.jp）。"
                          "未設定のときはリンクを載せません。"),
    settings.setting("replies.max_per_hour", type="int", default=60, validate=_positive,
                     label="1時間あたりの返信上限（アカウントごと）",
                     help="これを超えた返信はモールに送らず、差出人に差し戻します（誤送信やメールループの歯止め）。"),
    settings.setting("replies.address_days", type="int", default=90, validate=_positive,
                     label="返信用アドレスの有効期間（日）",
                     help="お客様の問い合わせに最後のメッセージがあってからこの日数を過ぎた返信用アドレス（r+…）には、"
                          "返信を受け付けません（古いアドレスの悪用を防ぎます）。"),
    settings.setting("replies.mark_read", type="bool", default=False,
                     label="受信箱に届けたらモールで既読にする",
                     help="お客様のメッセージを受信箱に配送したあと、モール側（R-Messe / Yahoo!）でも既読にします。"),
    settings.setting("replies.quote_markers", type="text", default=None,
                     label="引用の開始行（1行に1つ）",
                     help="返信メールでこの文字列から始まる行以降を引用として取り除きます。ヘルプデスク独自の引用見出しを追加するときに使います。"),
    schedule_setting("replies.backoff_minutes", label="モールへの再送間隔（分、カンマ区切り）",
                     help="モールが一時的に応答しないとき、返信・完了・既読の1回目・2回目…の再送までの待ち時間。"
                          "値の数が再送回数です（4回以上）。使い切るとモールへの送信は失敗になり、管理画面から再送できます。"),
)]


def get(key):
    """A reply setting by its short name, e.g. get("max_per_hour")."""
    return settings.get("replies." + key)


def quote_markers():
    """Extra lines that start a quoted block, from the admin setting."""
    return tuple(line.strip() for line in (get("quote_markers") or "").splitlines() if line.strip())


def schedule():
    """The retry schedule of mall writes in minutes; a broken stored value falls back to the default."""
    return read_schedule("replies.backoff_minutes")
