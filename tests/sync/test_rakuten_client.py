"""Rakuten client against `responses`: every call, the documented bodies and every error shape."""
import base64
import datetime as dt
import itertools

import pytest
import requests
from responses import matchers

from sync.malls.errors import (
    Conflict,
    InvalidRequest,
    MalformedResponse,
    MallAuthError,
    NotFound,
    PermanentMallError,
    RateLimited,
    ResponseTooLarge,
    TemporaryMallError,
)
from sync.malls.fields import JST
from sync.malls.rakuten.client import Attachment, esa_header, windows
from tests.sync.rakuten_samples import API, BASE, INQUIRY, inquiry, page

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 1, 0, 0, 0)  # naive = UTC → 09:00 JST
T1 = dt.datetime(2026, 11, 20, 0, 0, 0)


@pytest.fixture
def client(rakuten_client):
    """The sample shop's client (tests/sync/fixtures.py)."""
    return rakuten_client


def test_esa_header_is_base64_of_secret_colon_key_without_newlines():
    """Authorization is ESA base64(serviceSecret:licenseKey); stray whitespace never enters the base64."""
    value = esa_header(" SP1_secret\n", "SL1_key\r\n")
    assert value == "ESA " + base64.b64encode(b"SP1_secret:SL1_key").decode()


def test_count_sends_auth_content_type_and_jst_dates(rsps, client):
    """count: ESA header, JSON content type, JST-naive fromDate/toDate, and the result count."""
    rsps.get(API + "/inquiries/count", json={"result": {"count": 3}}, match=[
        matchers.header_matcher({"Authorization": esa_header("SP999999_secret", "SL999999_key"),
                                 "Content-Type": "application/json; charset=utf-8"}),
        matchers.query_param_matcher({"fromDate": "2026-11-01T09:00:00", "toDate": "2026-11-20T09:00:00",
                                      "noMerchantReply": "true"})])
    assert client.count(T0, T1, no_merchant_reply=True) == 3


def test_every_call_has_connect_and_read_timeouts(rsps, client):
    """Requests carry a (connect, read) timeout, never none."""
    rsps.get(API + "/inquiries/count", json={"result": {"count": "0"}})
    assert client.count(T0.replace(tzinfo=JST), T1.replace(tzinfo=JST)) == 0
    assert rsps.calls[0].request.req_kwargs["timeout"] == (5.0, 20.0)
    assert rsps.calls[0].request.params["fromDate"] == "2026-11-01T00:00:00"


def test_list_parses_the_documented_inquiry(rsps, client):
    """The documented inquiry object becomes an Inquiry with messages in order; the first has id 'q'."""
    rsps.get(API + "/inquiries", json=page([INQUIRY]), match=[matchers.query_param_matcher(
        {"fromDate": "2026-11-01T09:00:00", "toDate": "2026-11-20T09:00:00", "limit": "100", "page": "1"})])
    result = client.list(T0, T1)
    assert (result.total_count, result.total_pages, result.page) == (1, 1, 1)
    inq = result.inquiries[0]
    assert inq.number == "999999-20200519-1t" and inq.shop_id == "999999"
    assert inq.type == "商品問い合わせ" and inq.category == "再入荷・在庫" and inq.item_name == "有機緑茶 100g"
    assert inq.reg_date == dt.datetime(2020, 5, 19, 15, 25, 48, tzinfo=JST)
    assert inq.last_update.astimezone(UTC) == dt.datetime(2020, 5, 19, 7, 0, tzinfo=UTC)
    assert [(m.id, m.sender) for m in inq.messages] == [("q", "user"), ("0", "merchant"), ("1", "user")]
    assert inq.messages[0].text == "商品の在庫はありますか？\r\n急ぎです。"  # customer text unchanged
    assert inq.messages[0].attachments == (Attachment("images.jpg", "2020/05/19/999999/123456_55080b8b"),)


def test_empty_list_is_200_with_no_inquiries(rsps, client):
    """The empty-list body is a normal page."""
    rsps.get(API + "/inquiries", json={"totalCount": 0, "totalPageCount": 0, "page": 1, "list": []})
    assert client.list(T0, T1).inquiries == []


def test_tolerant_parsing_of_strings_nulls_and_crlf(rsps, client):
    """Numbers and booleans as strings, missing optional fields and CR/LF in names are accepted."""
    odd = {"inquiryNumber": "999999-20200519-2", "shopId": "999999", "userName": "楽天\r\n太郎\tBcc: x@example.com",
           "message": "本文\n二行目", "regDate": "2020-05-19T15:25:48", "isCompleted": "false",
           "readByMerchant": "true", "itemName": "お茶\n100g", "replies": [
               {"id": "0", "message": "返信", "regDate": "2020-05-19T15:30:00+09:00", "replyFrom": "merchant",
                "isRead": "true", "attachments": None, "isMessageDeleted": "false"}],
           "attachments": None, "unexpectedNewField": {"x": 1}}
    rsps.get(API + "/inquiry/999999-20200519-2", json={"result": odd})
    inq = client.detail("999999-20200519-2")
    assert inq.user_name == "楽天 太郎 Bcc: x@example.com" and inq.item_name == "お茶 100g"
    assert inq.is_completed is False and inq.read_by_merchant is True and inq.order_number is None
    assert inq.reg_date == dt.datetime(2020, 5, 19, 15, 25, 48, tzinfo=JST)  # no offset means JST
    assert inq.replies[0].id == "0" and inq.replies[0].is_read is True and inq.type is None
    assert inq.message == "本文\n二行目"


def test_deleted_messages_come_back_empty(rsps, client):
    """isMessageDeleted blanks text and attachments and is reported on the message."""
    data = inquiry(isMessageDeleted=True, message="", attachments=[])
    data["replies"][0].update(isMessageDeleted=True, message="")
    rsps.get(API + "/inquiry/999999-20200519-1t", json={"result": data})
    messages = client.detail("999999-20200519-1t").messages
    assert messages[0].deleted and messages[0].text == "" and messages[0].attachments == ()
    assert [m.deleted for m in messages[1:]] == [False, True]


@pytest.mark.parametrize("body", [
    b'{"totalCount": 2, "totalPageCount": 1, "page": 1, "list": [{"inquiryNumber": "9-1',  # truncated
    b"<html>502 Bad Gateway</html>",
    b'{"totalCount": 1, "list": {"inquiryNumber": "1"}}',  # list is an object
    b'{"totalCount": 1, "list": [{"inquiryNumber": {"a": 1}}]}',
    b'{"totalCount": 1, "list": [{"inquiryNumber": "1-2", "replies": [{"id": "zero"}]}]}',
    b'{"totalCount": 1, "list": [{"inquiryNumber": "1 2; DROP"}]}',
    b'{"totalCount": "many", "list": []}',
    b'[]',
])
def test_malformed_list_bodies_raise_malformed_response(rsps, client, body):
    """Bad or truncated JSON and unexpected types raise MalformedResponse, not KeyError/TypeError."""
    rsps.get(API + "/inquiries", body=body, content_type="application/json")
    with pytest.raises(MalformedResponse):
        client.list(T0, T1)


def test_windows_are_at_most_30_days_and_cover_the_range():
    """A 75-day range becomes consecutive ≤30-day windows without gaps or overlaps."""
    start = dt.datetime(2026, 1, 1)
    result = list(windows(start, start + dt.timedelta(days=75)))
    assert len(result) == 3
    assert result[0] == (start, start + dt.timedelta(days=30))
    assert result[1][0] == start + dt.timedelta(days=30, seconds=1)
    assert result[-1][1] == start + dt.timedelta(days=75)
    assert all(b - a <= dt.timedelta(days=30) for a, b in result)
    assert all(later[0] - earlier[1] == dt.timedelta(seconds=1) for earlier, later in itertools.pairwise(result))


def test_a_60_day_pass_is_two_windows():
    """The rolling 60-day re-scan (and a 90-day backfill) leave no one-second window over:
    no API call for a window that can hold nothing new."""
    end = dt.datetime(2026, 12, 1, 10, 11, 12)
    assert len(list(windows(end - dt.timedelta(days=60), end))) == 2
    assert len(list(windows(end - dt.timedelta(days=90), end))) == 3


def test_iter_inquiries_walks_windows_and_pages(rsps, client):
    """A 45-day range is read in two windows, the first over two pages."""
    first = {"fromDate": "2026-10-01T09:00:00", "toDate": "2026-10-31T09:00:00"}
    second = {"fromDate": "2026-10-31T09:00:01", "toDate": "2026-11-15T09:00:00"}
    rsps.get(API + "/inquiries", json=page([inquiry(inquiryNumber="1-a"), inquiry(inquiryNumber="1-b")], 3, 2, 1),
             match=[matchers.query_param_matcher(first | {"limit": "2", "page": "1"})])
    rsps.get(API + "/inquiries", json=page([inquiry(inquiryNumber="1-c")], 3, 2, 2),
             match=[matchers.query_param_matcher(first | {"limit": "2", "page": "2"})])
    rsps.get(API + "/inquiries", json=page([inquiry(inquiryNumber="1-d")]),
             match=[matchers.query_param_matcher(second | {"limit": "2", "page": "1"})])
    found = client.iter_inquiries(dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 15), limit=2)
    assert [i.number for i in found] == ["1-a", "1-b", "1-c", "1-d"]


def test_iter_inquiries_splits_a_window_over_10000_rows(rsps, client):
    """More than 10,000 rows in a window (the API cap) splits the window in halves."""
    full = {"fromDate": "2026-11-01T09:00:00", "toDate": "2026-11-03T09:00:00", "limit": "100", "page": "1"}
    rsps.get(API + "/inquiries", json=page([], total=10001, pages=101),
             match=[matchers.query_param_matcher(full)])
    rsps.get(API + "/inquiries", json=page([inquiry(inquiryNumber="1-a")]), match=[matchers.query_param_matcher(
        full | {"toDate": "2026-11-02T09:00:00"})])
    rsps.get(API + "/inquiries", json=page([inquiry(inquiryNumber="1-b")]), match=[matchers.query_param_matcher(
        full | {"fromDate": "2026-11-02T09:00:01"})])
    found = client.iter_inquiries(dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 3))
    assert [i.number for i in found] == ["1-a", "1-b"]


def test_iter_inquiries_splits_a_window_the_api_refuses_with_ie000(rsps, client):
    """A window the API refuses with 400 IE000 (over 10,000 rows) is split in halves and read."""
    full = {"fromDate": "2026-11-01T09:00:00", "toDate": "2026-11-03T09:00:00", "limit": "100", "page": "1"}
    rsps.get(API + "/inquiries", status=400, json={"error": {"code": "IE000", "message": "400 Bad Request"}},
             match=[matchers.query_param_matcher(full)])
    rsps.get(API + "/inquiries", json=page([inquiry(inquiryNumber="1-a")]), match=[matchers.query_param_matcher(
        full | {"toDate": "2026-11-02T09:00:00"})])
    rsps.get(API + "/inquiries", json=page([inquiry(inquiryNumber="1-b")]), match=[matchers.query_param_matcher(
        full | {"fromDate": "2026-11-02T09:00:01"})])
    found = client.iter_inquiries(dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 3))
    assert [i.number for i in found] == ["1-a", "1-b"]


@pytest.mark.parametrize("kw", [{"limit": 101}, {"limit": 0}, {"page": 0}, {"page": 10001},
                                {"limit": 100, "page": 101}])
def test_list_refuses_paging_the_api_rejects(client, kw):
    """limit 1–100, page 1–10000 and limit*page ≤ 10000 are checked before sending."""
    with pytest.raises(InvalidRequest):
        client.list(T0, T1, **kw)


def test_detail_and_not_found(rsps, client):
    """detail returns the inquiry; a 404 error body becomes NotFound; a bad number is never sent."""
    rsps.get(API + "/inquiry/999999-20200519-1t", json={"result": INQUIRY})
    rsps.get(API + "/inquiry/999999-1", status=404, json={"error": {"code": "IE004", "message": "not found"}})
    assert client.detail("999999-20200519-1t").user_name == "楽天太郎"
    with pytest.raises(NotFound) as err:
        client.detail("999999-1")
    assert err.value.code == "IE004" and err.value.status == 404
    with pytest.raises(InvalidRequest):
        client.detail("../../admin")


def test_reply_posts_shop_id_message_and_attachment(rsps, client):
    """reply sends inquiryNumber, shopId (string), LF text and one attachment; 201 gives the posted message."""
    rsps.post(API + "/inquiry/reply", status=201, json={"result": {
        "message": "ありがとうございます。\n在庫あります。", "regDate": "2026-11-20T10:00:00+09:00",
        "replyFrom": "merchant", "isRead": False,
        "attachments": [{"label": "a.png", "path": "2026/11/20/999999/1_ab"}]}},
        match=[matchers.json_params_matcher({"inquiryNumber": "999999-20200519-1t", "shopId": "999999",
                                             "message": "ありがとうございます。\n在庫あります。",
                                             "attachments": [{"label": "a.png", "path": "2026/11/20/999999/1_ab"}]})])
    posted = client.reply("999999-20200519-1t", "ありがとうございます。\r\n在庫あります。",
                          Attachment("a.png", "2026/11/20/999999/1_ab"))
    assert posted.id is None and posted.sender == "merchant" and posted.attachments[0].label == "a.png"
    assert posted.posted_at == dt.datetime(2026, 11, 20, 10, 0, tzinfo=JST)


@pytest.mark.parametrize("text", ["", "   \n ", "あ" * 2001, "短い行\n" + "い" * 301,
                                  "詳しくは http://item.rakuten.co.jp/x をご覧ください",
                                  "詳しくは https://example.com/x をご覧ください",
                                  "https://rakuten.co.jp.evil.example/x"])
def test_reply_limits_are_checked_before_sending(client, text):
    """Empty, >2000 chars, >300 chars per line and non-Rakuten/non-https URLs are refused locally."""
    with pytest.raises(InvalidRequest) as err:
        client.reply("999999-20200519-1t", text)
    assert err.value.explanation_ja


def test_reply_allows_exact_limits_and_rakuten_urls(rsps, client):
    """2000 chars in 300-char lines with an https rakuten.co.jp link go out."""
    rsps.post(API + "/inquiry/reply", status=201, json={"result": {"message": "x", "replyFrom": "merchant"}})
    text = "\n".join(["う" * 300] * 6) + "\n" + "https://item.rakuten.co.jp/shop/1/" + "え" * 60
    assert len(text) <= 2000
    client.reply("999999-20200519-1t", text)


@pytest.mark.parametrize("label", ["photo.exe", "x" * 97 + ".png", "a[1].png", "noext"])
def test_reply_attachment_label_rules(client, label):
    """Attachment labels need png/jpeg/jpg/gif/pdf, ≤100 chars and no brackets."""
    with pytest.raises(InvalidRequest):
        client.reply("999999-20200519-1t", "本文", Attachment(label, "2026/11/20/999999/1_ab"))


def test_reply_conflict_and_bad_parameter(rsps, client):
    """409 is Conflict; 400 IE001 carries code and targets."""
    rsps.post(API + "/inquiry/reply", status=409, json={"error": {"code": "IE409", "message": "duplicate"}})
    rsps.post(API + "/inquiry/reply", status=400, json={"error": {
        "code": "IE001", "message": "bad parameter", "targets": {"attachments": "size must be between 0 and 1"}}})
    with pytest.raises(Conflict):
        client.reply("999999-20200519-1t", "本文")
    with pytest.raises(PermanentMallError) as err:
        client.reply("999999-20200519-1t", "本文")
    assert err.value.code == "IE001" and err.value.targets == {"attachments": "size must be between 0 and 1"}
    assert "attachments: size must be between 0 and 1" in err.value.explanation_ja


def test_upload_is_multipart_file_and_returns_label_and_path(rsps, client):
    """attachment.post sends one multipart `file` and returns {label, path}."""
    rsps.post(API + "/attachment", status=201, json={"result": {"label": "images.jpg",
                                                                "path": "2019/10/02/504166/173449_f37d"}})
    att = client.upload("images.jpg", b"\xff\xd8jpeg")
    assert att == Attachment("images.jpg", "2019/10/02/504166/173449_f37d")
    sent = rsps.calls[0].request
    assert sent.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="file"; filename="images.jpg"' in sent.body


def test_upload_too_large_and_bad_files(rsps, client):
    """413 GF0003 (errors[] shape) is a permanent error; empty, >5 MB and bad names are refused locally."""
    rsps.post(API + "/attachment", status=413, json={"errors": [{"code": "GF0003",
                                                                 "message": "Request entity too large"}]})
    with pytest.raises(PermanentMallError) as err:
        client.upload("big.pdf", b"%PDF" + b"0" * 100)
    assert err.value.code == "GF0003" and "5MB" in err.value.explanation_ja
    for name, content in [("a.png", b""), ("a.png", b"0" * (5 * 1024 * 1024 + 1)), ("a.bmp", b"BM")]:
        with pytest.raises(InvalidRequest):
            client.upload(name, content)


def test_download_sends_path_and_label_and_caps_size(rsps, client):
    """attachment get needs path and label; a body over the cap raises ResponseTooLarge."""
    att = Attachment("images.jpg", "2020/05/19/999999/123456_55080b8b")
    rsps.get(API + "/attachment", body=b"\xff\xd8data", content_type="image/jpeg",
             match=[matchers.query_param_matcher({"path": att.path, "label": att.label})])
    rsps.get(API + "/attachment", body=b"0" * 2048, content_type="image/jpeg")
    got = client.download(att)
    assert (got.content, got.content_type, got.filename) == (b"\xff\xd8data", "image/jpeg", "images.jpg")
    with pytest.raises(ResponseTooLarge):
        client.download(att, max_bytes=1024)


@pytest.mark.parametrize("method, path", [("mark_read", "read"), ("complete", "complete"),
                                          ("incomplete", "incomplete")])
def test_batch_operations_report_per_item_results(rsps, client, method, path):
    """read/complete/incomplete PATCH ≤20 numbers per call and return ok and error lists."""
    numbers = [f"999999-20261101-{n}" for n in range(25)]
    rsps.patch(API + f"/inquiries/{path}", json={"result": {"ok": numbers[:19], "error": [
        {"inquiryNumber": numbers[19], "errorMessage": "already set value as specified"}]}},
        match=[matchers.json_params_matcher({"inquiryNumbers": numbers[:20]})])
    rsps.patch(API + f"/inquiries/{path}", json={"result": {"ok": numbers[20:24], "error": [
        {"inquiryNumber": numbers[24], "errorMessage": "not found."}]}},
        match=[matchers.json_params_matcher({"inquiryNumbers": numbers[20:]})])
    result = getattr(client, method)(numbers)
    assert result.ok == numbers[:19] + numbers[20:24]
    assert result.errors == [(numbers[19], "already set value as specified"), (numbers[24], "not found.")]


def test_batch_blank_number_is_a_bad_parameter(rsps, client):
    """A blank number gets 400 with targets {"inquiryNumbers[]": ...}."""
    rsps.patch(API + "/inquiries/read", status=400, json={"error": {
        "code": "IE001", "message": "bad parameter", "targets": {"inquiryNumbers[]": "must not be blank"}}})
    with pytest.raises(PermanentMallError) as err:
        client.mark_read([""])
    assert err.value.targets == {"inquiryNumbers[]": "must not be blank"}


def test_license_expiry_is_jst(rsps, client):
    """The expiry endpoint's offset-less date is read as JST."""
    rsps.get(BASE + "/license-management/license-key/expiry-date", json={"expiryDate": "2026-11-28T23:59:59"},
             match=[matchers.query_param_matcher({"licenseKey": "SL999999_key"}),
                    matchers.header_matcher({"Authorization": esa_header("SP999999_secret", "SL999999_key")})])
    assert client.license_expiry() == dt.datetime(2026, 11, 28, 23, 59, 59, tzinfo=JST)


def test_license_expiry_errors(rsps, client):
    """Missing licenseKey (DR0005) is permanent; an unparsable date is malformed."""
    url = BASE + "/license-management/license-key/expiry-date"
    rsps.get(url, status=400, json={"errors": [{"code": "DR0005", "message": "licenseKey is required"}]})
    rsps.get(url, json={"expiryDate": "someday"})
    with pytest.raises(PermanentMallError) as err:
        client.license_expiry()
    assert err.value.code == "DR0005"
    with pytest.raises(MalformedResponse):
        client.license_expiry()


@pytest.mark.parametrize("status, body, headers, error, code", [
    (401, {"errors": [{"code": "GA0001", "message": "Un-Authorised"}]}, {}, MallAuthError, "GA0001"),
    (429, {"errors": [{"code": "TooMany", "message": "slow down"}]}, {"Retry-After": "7"}, RateLimited, "TooMany"),
    (500, {"error": {"code": "IE999", "message": "internal"}}, {}, TemporaryMallError, "IE999"),
    (503, "<html>Service Unavailable</html>", {}, TemporaryMallError, None),
    (400, {"error": {"code": "IE000", "message": "400 Bad Request"}}, {}, PermanentMallError, "IE000"),
    (400, {"error": {"code": "IE001", "message": "400 Bad Request"}}, {}, PermanentMallError, "IE001"),
    (400, {"error": {"code": "IE001", "message": "bad parameter",
                     "targets": {"fromDate": "date time range should be within 31 days."}}}, {},
     PermanentMallError, "IE001"),
    (404, {"error": {"code": "IE004", "message": "no data"}}, {}, NotFound, "IE004"),
    (302, "", {"Location": "https://login.example/"}, PermanentMallError, None),
])
def test_error_shapes_map_to_typed_errors(rsps, client, status, body, headers, error, code):
    """Both error body shapes and the status map to the documented typed errors."""
    kw = {"json": body} if isinstance(body, dict) else {"body": body}
    rsps.get(API + "/inquiries/count", status=status, headers=headers, **kw)
    with pytest.raises(error) as err:
        client.count(T0, T1)
    assert type(err.value) is error and err.value.code == code and err.value.mall == "rakuten"
    assert err.value.status == status and err.value.explanation_ja


def test_expired_key_explains_in_japanese(rsps, client):
    """GA0001 tells staff to issue a new license key in RMS."""
    rsps.get(API + "/inquiries/count", status=401, json={"errors": [{"code": "GA0001", "message": "Un-Authorised"}]})
    with pytest.raises(MallAuthError) as err:
        client.count(T0, T1)
    assert "ライセンスキー" in err.value.explanation_ja and "GA0001" in str(err.value)


def test_rate_limited_carries_retry_after(rsps, client):
    """A 429 with Retry-After gives RateLimited.retry_after in seconds."""
    rsps.get(API + "/inquiries/count", status=429, headers={"Retry-After": "12"}, body="")
    with pytest.raises(RateLimited) as err:
        client.count(T0, T1)
    assert err.value.retry_after == 12.0


@pytest.mark.parametrize("exc, code", [(requests.exceptions.ConnectTimeout("slow"), "timeout"),
                                       (requests.exceptions.ReadTimeout("slow"), "timeout"),
                                       (requests.exceptions.ConnectionError("refused"), "connection"),
                                       (requests.exceptions.ChunkedEncodingError("cut"), "connection")])
def test_transport_errors_are_temporary(rsps, client, exc, code):
    """Timeouts and connection errors become TemporaryMallError."""
    rsps.get(API + "/inquiries/count", body=exc)
    with pytest.raises(TemporaryMallError) as err:
        client.count(T0, T1)
    assert err.value.code == code


def test_ssl_errors_are_permanent(rsps, client):
    """A TLS failure is not retried."""
    rsps.get(API + "/inquiries/count", body=requests.exceptions.SSLError("bad cert"))
    with pytest.raises(PermanentMallError) as err:
        client.count(T0, T1)
    assert err.value.code == "ssl"
