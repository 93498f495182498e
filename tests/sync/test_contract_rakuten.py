"""docs/mall-apis.md §1 (Rakuten R-Messe) read line by line: every variant the document says can occur,
fed to RakutenClient through `responses`. Facts already pinned in test_rakuten_client.py are
not repeated here; this file holds the ones it did not cover."""
import datetime as dt
import json

import pytest
import responses
from responses import matchers

from sync.malls.errors import InvalidRequest, MalformedResponse, MallAuthError, PermanentMallError
from sync.malls.fields import JST
from sync.malls.rakuten.client import Attachment, RakutenClient
from tests.sync.rakuten_samples import API, BASE, INQUIRY, inquiry, page

T0 = dt.datetime(2026, 11, 1)
T1 = dt.datetime(2026, 11, 20)
NUMBER = INQUIRY["inquiryNumber"]
# The documented response Content-Type: no space before charset, upper-case UTF-8 (§1.6).
RMS_TYPE = "application/json;charset=UTF-8"


@pytest.fixture
def client(rakuten_client):
    """The sample shop's client (tests/sync/fixtures.py)."""
    return rakuten_client


def serve_detail(rsps, data, number=NUMBER):
    """Register inquiry.get answering `{"result": data}` as RMS does (raw UTF-8, RMS content type)."""
    body = json.dumps({"result": data}, ensure_ascii=False).encode()
    rsps.get(API + f"/inquiry/{number}", body=body, content_type=RMS_TYPE)


def test_rms_content_type_with_raw_utf8_is_read(rsps, client):
    """`application/json;charset=UTF-8` with unescaped Japanese text parses unchanged."""
    serve_detail(rsps, inquiry())
    inq = client.detail(NUMBER)
    assert inq.user_name == "楽天太郎" and inq.messages[0].text.startswith("商品の在庫")


@pytest.mark.parametrize("shop_id", [999999, "999999", None])
def test_shop_id_int_string_or_missing(rsps, client, shop_id):
    """shopId comes as an int (sample) or a string (doc type); missing, it is the number's first segment."""
    data = inquiry(shopId=shop_id)
    if shop_id is None:
        del data["shopId"]
    serve_detail(rsps, data)
    assert client.detail(NUMBER).shop_id == "999999"


def test_optional_customer_and_item_fields_may_be_absent_or_null(rsps, client):
    """userMaskEmail may be absent; itemUrl/itemName/itemNumber and orderNumber may be null."""
    data = inquiry(itemUrl=None, itemName=None, itemNumber=None, orderNumber=None)
    del data["userMaskEmail"]
    serve_detail(rsps, data)
    inq = client.detail(NUMBER)
    assert inq.user_mask_email is None
    assert (inq.item_url, inq.item_name, inq.item_number, inq.order_number) == (None, None, None, None)


def test_order_inquiry_carries_order_number_and_relay_address(rsps, client):
    """An order inquiry (受注問い合わせ) has a string orderNumber; userMaskEmail is the relay address."""
    serve_detail(rsps, inquiry(type="受注問い合わせ", category="注文情報の追加連絡",
                               orderNumber="999999-20200519-0000000001"))
    inq = client.detail(NUMBER)
    assert inq.order_number == "999999-20200519-0000000001" and inq.type == "受注問い合わせ"
    assert inq.user_mask_email.endswith("@pc.fw.rakuten.ne.jp")


@pytest.mark.parametrize("kind, category", [("店舗問い合わせ", ""), ("商品問い合わせ", "返品・交換・キャンセル"),
                                            ("受注問い合わせ", "ソーシャルギフト受取"),
                                            ("店舗からの問い合わせ", "発送の確認・連絡")])
def test_type_and_category_values(rsps, client, kind, category):
    """Every documented type is kept; category "" (older inquiries) stays empty, not an error."""
    serve_detail(rsps, inquiry(type=kind, category=category))
    inq = client.detail(NUMBER)
    assert (inq.type, inq.category) == (kind, category)


@pytest.mark.parametrize("value, expected", [("注文者", "注文者"), ("受取人", "受取人"), (None, None), ("absent", None)])
def test_social_gift_user_type(rsps, client, value, expected):
    """socialGiftUserType is 注文者 / 受取人 / null, or missing altogether."""
    data = inquiry(socialGiftUserType=value)
    if value == "absent":
        del data["socialGiftUserType"]
    serve_detail(rsps, data)
    assert client.detail(NUMBER).social_gift_user_type == expected


def test_social_gift_inside_attachment_is_ignored(rsps, client):
    """The doc typo (socialGiftUserType inside attachments[0]) does not break the attachment."""
    data = inquiry()
    data["attachments"][0]["socialGiftUserType"] = "受取人"
    serve_detail(rsps, data)
    assert client.detail(NUMBER).attachments == (Attachment("images.jpg", "2020/05/19/999999/123456_55080b8b"),)


def test_reply_ids_start_at_zero_and_are_stable_across_fetches(rsps, client):
    """replies[].id starts at 0; the first customer message has no id and gets ours; ids repeat on re-fetch."""
    replies = [{"id": n, "message": f"m{n}", "regDate": f"2020-05-19T16:0{n}:00+09:00",
                "replyFrom": "user" if n % 2 else "merchant", "isRead": False, "attachments": [],
                "isMessageDeleted": False} for n in (2, 0, 1)]
    serve_detail(rsps, inquiry(replies=replies))
    first, again = client.detail(NUMBER), client.detail(NUMBER)
    ids = [m.id for m in first.messages]
    assert ids == ["q", "0", "1", "2"] and ids == [m.id for m in again.messages]
    assert len(set(ids)) == len(ids)
    assert [m.sender for m in first.messages] == ["user", "merchant", "user", "merchant"]


@pytest.mark.parametrize("reply_from", ["merchant", "MERCHANT", " Merchant "])
def test_reply_from_is_read_case_insensitively(rsps, client, reply_from):
    """A shop reply is the shop's whatever the casing (else it would be mailed in as the customer's)."""
    serve_detail(rsps, inquiry(replies=[{"id": 0, "message": "返信", "replyFrom": reply_from}]))
    assert client.detail(NUMBER).replies[0].sender == "merchant"


def test_deleted_message_with_null_text_and_attachments(rsps, client):
    """isMessageDeleted=true with message/attachments null (not just empty) still parses, blanked."""
    data = inquiry(isMessageDeleted=True, message=None, attachments=None)
    data["replies"][1].update(isMessageDeleted=True, message=None, attachments=None)
    serve_detail(rsps, data)
    inq = client.detail(NUMBER)
    assert inq.messages[0].deleted and inq.messages[0].text == "" and inq.messages[0].attachments == ()
    deleted = [m for m in inq.replies if m.deleted]
    assert len(deleted) == 1 and deleted[0].text == "" and deleted[0].attachments == ()


def test_deleted_flag_wins_over_leftover_text(rsps, client):
    """When Rakuten removed a message, any leftover text or file is not passed on."""
    serve_detail(rsps, inquiry(isMessageDeleted=True, message="消されたはずの本文"))
    inq = client.detail(NUMBER)
    assert inq.message == "" and inq.attachments == ()


@pytest.mark.parametrize("value, expected", [
    ("2020-05-19T15:25:48+09:00", dt.datetime(2020, 5, 19, 15, 25, 48, tzinfo=JST)),
    ("2020-05-19T15:25:48", dt.datetime(2020, 5, 19, 15, 25, 48, tzinfo=JST)),
    ("2020-05-19T06:25:48Z", dt.datetime(2020, 5, 19, 15, 25, 48, tzinfo=JST)),
    ("2020-05-19T15:25:48.250+09:00", dt.datetime(2020, 5, 19, 15, 25, 48, 250000, tzinfo=JST)),
    ("2020/05/19 15:25:48", dt.datetime(2020, 5, 19, 15, 25, 48, tzinfo=JST)),
])
def test_reg_date_forms(rsps, client, value, expected):
    """regDate with +09:00 (documented), without offset (JST), in UTC, with a fraction or in RMS's slashed form."""
    serve_detail(rsps, inquiry(regDate=value))
    assert client.detail(NUMBER).reg_date == expected


def test_completed_inquiry(rsps, client):
    """isCompleted true with a completedDate."""
    serve_detail(rsps, inquiry(isCompleted=True, completedDate="2020-05-20T10:00:00+09:00"))
    inq = client.detail(NUMBER)
    assert inq.is_completed is True and inq.completed_date == dt.datetime(2020, 5, 20, 10, tzinfo=JST)


@pytest.mark.parametrize("body", [{"totalCount": 0, "totalPageCount": 0, "page": 1, "list": []},
                                  {"totalCount": 0, "totalPageCount": 0, "page": 1, "list": None},
                                  {"totalCount": 0}])
def test_empty_list_variants(rsps, client, body):
    """The documented empty page (200, not 404), and a null or missing list, give no inquiries."""
    rsps.get(API + "/inquiries", body=json.dumps(body), content_type=RMS_TYPE)
    assert client.list(T0, T1).inquiries == []


def test_list_without_page_count_still_pages_on(rsps, client):
    """A list that omits totalPageCount is paged by totalCount rather than stopping after page 1."""
    window = {"fromDate": "2026-11-01T09:00:00", "toDate": "2026-11-20T09:00:00", "limit": "2"}
    rsps.get(API + "/inquiries", json={"totalCount": 3, "page": 1, "list": [inquiry(inquiryNumber="1-a"),
                                                                            inquiry(inquiryNumber="1-b")]},
             match=[matchers.query_param_matcher(window | {"page": "1"})])
    rsps.get(API + "/inquiries", json={"totalCount": 3, "page": 2, "list": [inquiry(inquiryNumber="1-c")]},
             match=[matchers.query_param_matcher(window | {"page": "2"})])
    assert [i.number for i in client.iter_inquiries(T0, T1, limit=2)] == ["1-a", "1-b", "1-c"]


@pytest.mark.parametrize("number", ["999999-20200519-1", "1-2", "a" * 40, 12345])
def test_inquiry_numbers_are_opaque(rsps, client, number):
    """Inquiry numbers are [0-9A-Za-z-], 1–40 chars, any digit count; a bare number is read as text."""
    rsps.get(API + "/inquiries", json=page([inquiry(inquiryNumber=number)]))
    assert client.list(T0, T1).inquiries[0].number == str(number)


@pytest.mark.parametrize("number", ["a" * 41, "", "12/34", "１２３"])
def test_bad_inquiry_numbers_are_malformed(rsps, client, number):
    """A number outside the documented alphabet or length is a typed MalformedResponse."""
    rsps.get(API + "/inquiries", json=page([inquiry(inquiryNumber=number)]))
    with pytest.raises(MalformedResponse):
        client.list(T0, T1)


@pytest.mark.parametrize("path", ["2020/05/19/999999/123456_55080b8b", "/2020/05/19/999999/123456_55080b8b"])
def test_attachment_path_with_or_without_leading_slash(rsps, client, path):
    """Attachment paths are kept exactly as sent (doc says leading '/', samples have none)."""
    serve_detail(rsps, inquiry(attachments=[{"label": "images.jpg", "path": path}]))
    assert client.detail(NUMBER).attachments[0].path == path


@pytest.mark.parametrize("separator", ["\r\n", "\n", "\x85", "\u2028", "\u2029", "\x0b", "\x1c"])
def test_line_breaks_of_every_kind_leave_names_and_labels(rsps, client, separator):
    """userName, itemName, type, category and attachment labels are one line for any line break."""
    data = inquiry(userName=f"楽天{separator}Bcc: x@example.com", itemName=f"お茶{separator}100g",
                   attachments=[{"label": f"a{separator}.jpg", "path": "p"}])
    serve_detail(rsps, data)
    inq = client.detail(NUMBER)
    for value in (inq.user_name, inq.item_name, inq.attachments[0].label):
        assert value.splitlines() == [value] and "\r" not in value and "\n" not in value


@pytest.mark.parametrize("status", [400, 401, 403])
def test_ga0001_is_an_auth_error_whatever_the_status(rsps, client, status):
    """errors[] GA0001 (expired or invalid licenseKey) is MallAuthError even off a 401."""
    rsps.get(API + "/inquiries/count", status=status, content_type=RMS_TYPE,
             body=json.dumps({"errors": [{"code": "GA0001", "message": "Un-Authorised"}]}))
    with pytest.raises(MallAuthError) as err:
        client.count(T0, T1)
    assert err.value.code == "GA0001" and "ライセンスキー" in err.value.explanation_ja


def test_page_over_10000_is_ie001_without_targets(rsps, client):
    """page > 10000 answers IE001 '400 Bad Request' with no targets: permanent, empty targets."""
    rsps.get(API + "/inquiries", status=400, json={"error": {"code": "IE001", "message": "400 Bad Request"}})
    with pytest.raises(PermanentMallError) as err:
        client.list(T0, T1, page=100, limit=100)
    assert err.value.code == "IE001" and err.value.targets == {} and err.value.explanation_ja


def test_date_range_reasons_reach_the_explanation(rsps, client):
    """IE001 targets with the documented reasons are carried to the Japanese explanation."""
    error = {"code": "IE001", "message": "bad parameter", "targets": {"toDate": "date time range is invalid."}}
    rsps.get(API + "/inquiries/count", status=400, json={"error": error})
    with pytest.raises(PermanentMallError) as err:
        client.count(T0, T1)
    assert "toDate: date time range is invalid." in err.value.explanation_ja


def test_batch_of_exactly_20_is_one_call(rsps, client):
    """20 numbers (the documented maximum) go in one PATCH; results with only an error list are read."""
    numbers = [f"999999-20261101-{n}" for n in range(20)]
    rsps.patch(API + "/inquiries/complete", json={"result": {"error": [
        {"inquiryNumber": n, "errorMessage": "already set value as specified"} for n in numbers]}},
        match=[matchers.json_params_matcher({"inquiryNumbers": numbers})])
    result = client.complete(numbers)
    assert result.ok == [] and [e[0] for e in result.errors] == numbers
    assert len(rsps.calls) == 1


def test_reply_201_with_minimal_result(rsps, client):
    """A 201 whose result omits inquiryNumber, regDate and the text still reports the posted reply (no id)."""
    rsps.post(API + "/inquiry/reply", status=201, json={"result": {"replyFrom": "merchant"}})
    posted = client.reply(NUMBER, "ありがとうございます。")
    assert posted.id is None and posted.text == "ありがとうございます。" and posted.sender == "merchant"


def test_reply_sends_shop_id_as_text_even_from_an_int(rsps, client):
    """shopId is required in the reply body; it goes out as the documented string."""
    rsps.post(API + "/inquiry/reply", status=201, json={"result": {}}, match=[matchers.json_params_matcher(
        {"inquiryNumber": NUMBER, "shopId": "999999", "message": "本文"})])
    client.reply(NUMBER, "本文")


def test_reply_without_configured_shop_id_uses_the_number(rsps):
    """With no shop id on the account, the inquiry number's first segment is sent (practitioners' rule)."""
    rsps.post(API + "/inquiry/reply", status=201, json={"result": {}}, match=[matchers.json_params_matcher(
        {"inquiryNumber": "123456-20200519-1", "shopId": "123456", "message": "本文"})])
    with RakutenClient("s", "k", base_url=BASE, rate=None) as client:
        client.reply("123456-20200519-1", "本文")


@pytest.mark.parametrize("body", [
    b'{"result": {"inquiryNumber": "999999-20200519-1t", "shopId": 9',  # truncated detail
    b'{"inquiryNumber": "999999-20200519-1t"}',  # no result wrapper
    b'{"result": {"inquiryNumber": "999999-20200519-1t", "replies": [null]}}',
    b'{"result": {"inquiryNumber": "999999-20200519-1t", "attachments": ["images.jpg"]}}',
    b'{"result": {"inquiryNumber": "999999-20200519-1t", "message": ["a"]}}',
    b'{"result": {"inquiryNumber": "999999-20200519-1t", "regDate": "tomorrow"}}',
    b'{"result": {"inquiryNumber": "999999-20200519-1t", "isCompleted": "perhaps"}}',
    b'{"result": {"inquiryNumber": "999999-20200519-1t", "replies": [{"id": 1e400}]}}',
    b'',
])
def test_malformed_detail_is_typed(rsps, client, body):
    """Truncated JSON and unexpected types in a detail raise MalformedResponse, never KeyError/TypeError."""
    rsps.get(API + f"/inquiry/{NUMBER}", body=body, content_type=RMS_TYPE)
    with pytest.raises(MalformedResponse):
        client.detail(NUMBER)


def test_upload_refused_with_error_message_is_permanent(rsps, client):
    """attachment.post may answer 201 with errorMessage and no path: the file was refused, retrying won't help."""
    rsps.post(API + "/attachment", status=201, json={"result": {"errorMessage": "attachment file is empty."}})
    with pytest.raises(PermanentMallError) as err:
        client.upload("a.png", b"\x89PNG")
    assert not err.value.retryable and "attachment file is empty." in err.value.explanation_ja


def test_reply_attachment_path_over_1000_chars_is_refused(client):
    """attachments[].path is at most 1000 chars; a longer one is refused before sending."""
    with pytest.raises(InvalidRequest):
        client.reply(NUMBER, "本文", Attachment("a.png", "p" * 1001))


@pytest.mark.parametrize("body", [b'{"result": {"ok": "999999-1"}}', b'{"result": {"error": [{"inquiryNumber": []}]}}',
                                  b'{"result": {"error": ["999999-1"]}}', b'{"result": {"ok": [', b'[]'])
def test_malformed_batch_answers_are_typed(rsps, client, body):
    """read/complete/incomplete answers of unexpected shape raise MalformedResponse."""
    rsps.patch(API + "/inquiries/read", body=body, content_type=RMS_TYPE)
    with pytest.raises(MalformedResponse):
        client.mark_read(["999999-1"])


@pytest.mark.parametrize("body", [b'{"result": {"count": "many"}}', b'{"result": {}}', b'{"count": 3}',
                                  b'{"result": {"count": 1'])
def test_malformed_count_answers_are_typed(rsps, client, body):
    """A count answer without a usable result.count raises MalformedResponse."""
    rsps.get(API + "/inquiries/count", body=body, content_type=RMS_TYPE)
    with pytest.raises(MalformedResponse):
        client.count(T0, T1)


@pytest.mark.parametrize("body", [b"[]", b'{"expiryDate": null}', b'{"expiryDate": true}', b"{}",
                                  b'{"expiryDate": "2026'])
def test_malformed_expiry_answers_are_typed(rsps, client, body):
    """A license expiry answer without a usable expiryDate raises MalformedResponse."""
    rsps.get(BASE + "/license-management/license-key/expiry-date", body=body, content_type=RMS_TYPE)
    with pytest.raises(MalformedResponse):
        client.license_expiry()


@pytest.mark.parametrize("value", [1e300, -1e300, 10 ** 30, "9" * 40])
def test_out_of_range_times_are_malformed(rsps, client, value):
    """A time far outside the platform's range is MalformedResponse, not a raw OverflowError/OSError."""
    rsps.get(BASE + "/license-management/license-key/expiry-date", json={"expiryDate": value})
    serve_detail(rsps, inquiry(regDate=value))
    with pytest.raises(MalformedResponse):
        client.license_expiry()
    with pytest.raises(MalformedResponse):
        client.detail(NUMBER)


def test_415_is_retried_with_the_unspaced_content_type(client):
    """Build for both Content-Type spellings: a 415 to the spaced form is repeated once without the space."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _serve_415_then_ok(rsps)
        assert client.count(T0, T1) == 2


def _serve_415_then_ok(rsps):
    rsps.get(API + "/inquiries/count", status=415, body="",
             match=[matchers.header_matcher({"Content-Type": "application/json; charset=utf-8"})])
    rsps.get(API + "/inquiries/count", json={"result": {"count": 2}},
             match=[matchers.header_matcher({"Content-Type": "application/json;charset=utf-8"})])
