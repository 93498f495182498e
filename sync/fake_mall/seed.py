"""Demo accounts and a few believable Japanese inquiries, so the demo shows something at once."""
from cryptography.hazmat.primitives import serialization

from sync.fake_mall.demo_key import DEMO_PRIVATE_KEY_PEM
from sync.fake_mall.state import load_private_key
from sync.fake_mall.world import add_inquiry, add_rakuten_message, add_topic, add_yahoo_message

# Credentials of the demo accounts (also printed by `mallbridge fake-mall`).
DEMO_RAKUTEN = {"shop_id": 391234, "service_secret": "SP391234_demoServiceSecret",
                "license_key": "SL391234_demoLicenseKey"}
DEMO_YAHOO = {"seller_id": "mallbridge-demo", "client_id": "dj00demoClientId", "client_secret": "demoClientSecret",
              "refresh_token": "demo-refresh-token", "key_version": 1}


def demo_public_key_pem():
    """The public half of the demo store's key (what `accounts add yahoo --public-key-file` needs)."""
    return load_private_key(DEMO_PRIVATE_KEY_PEM).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def add_demo_accounts(st):
    """The demo Rakuten shop and Yahoo! store, with their fixed credentials and key."""
    st.add_shop(**DEMO_RAKUTEN)
    st.add_seller(DEMO_YAHOO["seller_id"], DEMO_YAHOO["client_id"], DEMO_YAHOO["client_secret"],
                  DEMO_YAHOO["refresh_token"], DEMO_YAHOO["key_version"], load_private_key(DEMO_PRIVATE_KEY_PEM))


def seed(st):
    """Demo accounts plus three Rakuten inquiries and two Yahoo! questions."""
    add_demo_accounts(st)
    shop = DEMO_RAKUTEN["shop_id"]
    add_inquiry(st, {
        "shop_id": shop, "type": "商品問い合わせ", "category": "再入荷・在庫", "user_name": "山田 花子",
        "item_name": "有機緑茶 100g", "item_number": "green-tea-100", "item_url": "/greentea-honpo/green-tea-100/",
        "days_ago": 2, "message": "有機緑茶 100g の再入荷予定はありますか？\n来月の法事で使いたいので、"
                                  "20日までに届くようであれば10袋注文したいです。"})
    order = add_inquiry(st, {
        "shop_id": shop, "type": "受注問い合わせ", "category": "送料・商品配送", "user_name": "佐藤 一郎",
        "order_number": f"{shop}-20261120-0000012345", "item_name": "ほうじ茶ティーバッグ 30包",
        "days_ago": 3, "message": "11月20日に注文した商品がまだ届いていません。\n配送状況を教えてください。"})
    add_rakuten_message(st, order["inquiryNumber"], {
        "from": "merchant", "days_ago": 2.5,
        "message": "佐藤様\nお問い合わせありがとうございます。本日発送いたしました。到着まで今しばらくお待ちください。"})
    add_rakuten_message(st, order["inquiryNumber"], {
        "days_ago": 1, "message": "ご連絡ありがとうございます。追跡番号を教えていただけますか？"})
    old = add_inquiry(st, {
        "shop_id": shop, "type": "店舗問い合わせ", "category": "店舗サービス", "user_name": "鈴木 美咲",
        "days_ago": 40, "message": "ギフト包装とのし(御歳暮)はお願いできますか？"})
    add_rakuten_message(st, old["inquiryNumber"], {
        "days_ago": 0.5, "message": "先日はありがとうございました。追加で5箱、同じ包装でお願いできますか？"})

    seller = DEMO_YAHOO["seller_id"]
    add_topic(st, {"seller_id": seller, "title": "在庫について", "qa_type": "item", "item_code": "matcha-latte-200",
                   "category": 11, "category_name": "商品の質問", "user_masked_id": "ta***", "days_ago": 1,
                   "body": "抹茶ラテの素 200g は在庫ありますか？\n3個まとめて購入したいです。"})
    topic = add_topic(st, {
        "seller_id": seller, "title": "配送日時の変更", "qa_type": "order", "order_id": f"{seller}-10000123",
        "category": 21, "category_name": "配送について", "user_masked_id": "ke***", "days_ago": 2,
        "body": "注文した商品の配送日を11月30日の午前中に変更できますか？"})
    add_yahoo_message(st, topic["topicId"], {"from": "seller", "days_ago": 1.5,
                                             "body": "お問い合わせありがとうございます。配送会社に確認いたします。"})
    add_yahoo_message(st, topic["topicId"], {"days_ago": 0.2, "body": "よろしくお願いします。午前中が難しければ14時以降でも大丈夫です。"})
