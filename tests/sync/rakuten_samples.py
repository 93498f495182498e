"""Rakuten InquiryManagementAPI bodies as docs/mall-apis.md describes them (field names and shapes)."""
import copy

BASE = "https://rms.example.test/es/1.0"
API = BASE + "/inquirymng-api"

INQUIRY = {
    "inquiryNumber": "999999-20200519-1t", "shopId": 999999, "userName": "楽天太郎",
    "userMaskEmail": "9ca9e8e4s9@pc.fw.rakuten.ne.jp", "message": "商品の在庫はありますか？\r\n急ぎです。",
    "regDate": "2020-05-19T15:25:48+09:00", "itemUrl": "/_sampleshop/105/", "itemName": "有機緑茶 100g",
    "itemNumber": "105", "isCompleted": False, "completedDate": None, "orderNumber": None, "readByMerchant": True,
    "attachments": [{"label": "images.jpg", "path": "2020/05/19/999999/123456_55080b8b"}],
    "replies": [
        {"id": 1, "message": "追加です", "regDate": "2020-05-19T16:00:00+09:00", "replyFrom": "user",
         "isRead": True, "attachments": [], "isMessageDeleted": False},
        {"id": 0, "message": "在庫ございます。", "regDate": "2020-05-19T15:25:58+09:00", "replyFrom": "merchant",
         "isRead": False, "attachments": [], "isMessageDeleted": False},
    ],
    "category": "再入荷・在庫", "type": "商品問い合わせ", "isMessageDeleted": False,
    "lastUpdateDate": "2020-05-19T16:00:00+09:00", "socialGiftUserType": None,
}


def inquiry(**changes):
    """A copy of the sample inquiry with some fields changed."""
    data = copy.deepcopy(INQUIRY)
    data.update(changes)
    return data


def page(items, total=None, pages=1, number=1):
    """A list response."""
    return {"totalCount": len(items) if total is None else total, "totalPageCount": pages, "page": number,
            "list": items}
