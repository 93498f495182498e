"""The outbox's runtime settings (edited in the admin UI), declared once with their defaults."""
from plugin import settings as _settings
from plugin.queue import read_schedule, schedule_setting

DEFAULTS = {
    "outbox.sandbox_address": None,
    "outbox.retention_days": 90,
}


def _check_range(low, high):
    def check(value):
        if not low <= value <= high:
            return f"{low}〜{high} の範囲で入力してください。"
        return None
    return check


SETTINGS = [_settings.section(
    "outbox", "メール送信",
    _settings.setting("outbox.sandbox_address", type="email", default=None,
                      label="送信先の差し替え（サンドボックス）",
                      help="設定すると、すべてのメールを本来の宛先ではなくこのアドレスに送ります。検証環境用。本番では空にしてください。"),
    _settings.setting("outbox.retention_days", type="int", default=90, validate=_check_range(1, 3650),
                      label="送信履歴の保存日数",
                      help="送信済み・破棄したメールをこの日数が過ぎたら削除します。送信失敗のメールは削除しません。"),
    schedule_setting("outbox.backoff_minutes", label="再送間隔（分、カンマ区切り）",
                     help="一時的なエラーのあと、1回目・2回目…の再送までの待ち時間。値の数が再送回数です（4回以上）。"),
)]


def get(key):
    """The current value of an outbox setting (the default when unset or unreadable)."""
    value = _settings.get(key)
    return DEFAULTS[key] if value is None else value


def schedule():
    """The mail retry schedule in minutes; a broken stored value falls back to the default."""
    return read_schedule("outbox.backoff_minutes")


def sandbox_address():
    """The address every mail is redirected to, or None in production."""
    value = get("outbox.sandbox_address")
    return (value or "").strip() or None
