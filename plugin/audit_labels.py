"""Japanese wording of audit rows: action codes, the names of their parameters and coded values.

The codes (`lookup.members`, `user.create`, `{"env": "production"}`) stay in the database and in
the CSV's 操作コード column for scripts; the console shows only these labels. An action another
module adds later without a label still reads as Japanese (「会員の操作」, 「その他の操作」),
never as its code.
"""
import json

from plugin.mail_templates import KINDS as TEMPLATE_KINDS
from plugin.staff import ROLE_LABELS

ACTION_LABELS = {
    "lookup.members": "会員検索",
    "lookup.orders": "受注検索",
    "user.create": "スタッフ追加",
    "user.update": "スタッフ更新（コマンド）",
    "user.enable": "スタッフ有効化",
    "user.disable": "スタッフ無効化",
    "user.role": "スタッフ権限変更",
    "user.password_reset": "パスワード再設定",
    "token.create": "APIトークン発行",
    "token.revoke": "APIトークン失効",
    "audit.export": "監査ログCSV出力",
    "routing.add": "振り分けルール追加",
    "routing.up": "振り分けルールの順番変更（上へ）",
    "routing.down": "振り分けルールの順番変更（下へ）",
    "routing.toggle": "振り分けルールの有効・無効の切り替え",
    "routing.delete": "振り分けルール削除",
    "mail_template.save": "メールテンプレート保存",
    "mail_template.reset": "メールテンプレートを標準に戻す",
    "helpdesk.test": "ヘルプデスクの接続テスト",
    "form.save": "問い合わせフォーム保存",
    "outbox.release": "メールの送信承認",
    "outbox.release_all": "保留中のメールの送信承認",
    "outbox.requeue": "メールの再送",
    "outbox.discard": "メールの破棄",
    "replies.mail_requeue": "返信メールの再処理",
    "replies.mail_discard": "返信メールの破棄",
    "replies.requeue": "モールへの送信の再送",
    "replies.discard": "モールへの送信の破棄",
    "mall_account.add": "モールアカウント追加",
    "mall_account.update": "モールアカウント変更",
    "mall_account.test": "モールの連携テスト",
    "api.members": "会員の登録（API）",
    "api.orders": "受注の登録（API）",
    "import.members": "会員の取り込み（コマンド）",
    "import.orders": "受注の取り込み（コマンド）",
    "inquiry.complete": "問い合わせの完了",
    "page.member": "会員ページの表示",
    "page.order": "受注ページの表示",
    "login.locked": "ログインの一時停止（失敗が続いたアカウント）",
}
# The first part of an action code: what an unlabelled action is about.
TOPICS = {
    "lookup": "検索", "user": "スタッフ", "token": "APIトークン", "audit": "監査ログ", "routing": "振り分けルール",
    "mail_template": "メールテンプレート", "helpdesk": "ヘルプデスク", "form": "問い合わせフォーム",
    "outbox": "送信履歴", "replies": "モールへの返信", "mall_account": "モール連携", "api": "API",
    "import": "取り込み", "inquiry": "問い合わせ", "member": "会員", "order": "受注", "page": "ページ表示",
    "settings": "設定", "setting": "設定", "login": "ログイン", "session": "ログイン", "shop": "店舗",
}
PARAM_LABELS = {
    "email": "メールアドレス", "tel": "電話番号", "customer_code": "会員番号", "order_number": "受注番号",
    "name": "名前", "shop": "店舗", "id": "ID", "mall": "モール", "kind": "種類", "env": "環境",
    "code": "確認コード", "slug": "フォーム", "to": "宛先", "bcc": "BCC", "role": "権限", "from": "変更前",
    "generated": "自動生成", "prefix": "先頭の文字", "items": "件数", "file": "ファイル", "account": "アカウント",
    "inquiry": "問い合わせ番号", "reason": "完了理由", "job": "処理", "upto": "対象（ID）", "user": "ユーザー",
    "text": "検索語", "charset": "文字コード", "member": "会員", "order": "受注",
    "failures": "失敗回数", "minutes": "期間（分）",
}
# Parameters whose name means something else for one action.
ACTION_PARAM_LABELS = {
    ("user.role", "to"): "変更後",
    ("audit.export", "from"): "開始日",
    ("audit.export", "to"): "終了日",
}
VALUE_LABELS = {
    "role": ROLE_LABELS,
    "from": ROLE_LABELS,
    "to": ROLE_LABELS,
    "env": {"production": "本番環境", "demo": "デモ環境"},
    "mall": {"rakuten": "楽天", "yahoo": "Yahoo!", "own": "自社サイト"},
    "kind": {key: spec.label for key, spec in TEMPLATE_KINDS.items()},
}


# Actors that are not a staff member's e-mail address.
ACTORS = {"cli": "コマンドライン", "system": "システム", "anonymous": "ログインしていない利用者",
          "demo seed": "デモデータの作成"}


def actor_label(actor):
    """Who did it, in Japanese when it is not a person (e-mail addresses and token:<name> stay)."""
    return ACTORS.get(actor, actor)


def action_label(action):
    """Japanese label of an action code; an unknown code reads as the topic's 「…の操作」."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    topic = TOPICS.get((action or "").split(".", 1)[0])
    return f"{topic}の操作" if topic else "その他の操作"


def _value(key, value):
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return VALUE_LABELS.get(key, {}).get(value, value) if isinstance(value, str) else value


def format_params(params, action=None):
    """A row's parameters as Japanese text: 「メールアドレス=taro@example.jp、店舗=default」."""
    if not params:
        return ""
    if not isinstance(params, dict):
        return json.dumps(params, ensure_ascii=False)
    parts = []
    for key, value in params.items():
        label = ACTION_PARAM_LABELS.get((action, key)) or PARAM_LABELS.get(key, "項目")
        parts.append(f"{label}={_value(key, value)}")
    return "、".join(parts)
