"""Yahoo! client against `responses`: token refresh, signature, every call and every error shape."""
import base64
import datetime as dt
import json
import urllib.parse

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from responses import matchers

from sync.fake_mall.demo_key import DEMO_PRIVATE_KEY_PEM
from sync.fake_mall.seed import demo_public_key_pem
from sync.malls.errors import (
    InvalidRequest,
    MalformedResponse,
    MallAuthError,
    NotFound,
    PermanentMallError,
    RateLimited,
    TemporaryMallError,
)
from sync.malls.fields import JST
from sync.malls.yahoo.client import YahooClient, YahooFile, load_public_key

API = "https://yahoo.example.test/ShoppingWebService/V1"
AUTH = "https://auth.example.test/yconnect/v2"
NOW = 1_784_252_100
PRIVATE = serialization.load_pem_private_key(DEMO_PRIVATE_KEY_PEM.encode(), password=None)
HEADLINE = {"topicId": "33c2dfab10ef4a", "isUnread": True, "isNoAnswer": False, "isCompleted": False,
            "completeConditionId": 0, "completeConditionShortName": None, "userPostTime": 1784252091,
            "sellerPostTime": None, "qaType": "item", "isPrivate": True, "category": 11, "title": "在庫について",
            "body": "在庫ありますか", "messageCount": 1, "userMaskedId": "ab***", "itemCode": "item-1",
            "orderId": "store-10050744", "firstPoster": "user", "serviceType": "shopping", "memo": None}
DETAIL = {"topic": {"accessUserType": "seller", "isSellerUnRead": "true", "isUserUnRead": False,
                    "sellerLastReadTime": "1784250291", "userLastReadTime": "1784252091", "isPrivate": True,
                    "isComplete": False, "completeConditionId": None, "isMail": False, "userMaskedIdx": "ab***",
                    "itemcode": "item-1", "orderid": "store-10050744", "categoryid": 11,
                    "categoryName": ["商品の質問"], "title": "在庫\r\nについて", "isAucChild": False, "qaType": "item"},
          "messages": [
              {"messageId": 2, "postUserType": "seller", "bid": None, "postdate": "1784252191", "body": "あります",
               "fileList": []},
              {"messageId": 1, "postUserType": "user", "bid": None, "postdate": "1784252091",
               "body": "在庫ありますか\n急ぎです", "fileList": [
                   {"fileName": "photo.jpg", "objectKey": "s/t/20180901000000_USER.png", "fileExt": "jpg",
                    "thumbnailUrl": "https://t.example/1", "fileSize": 12345}]}]}


@pytest.fixture
def rsps():
    """A strict responses mock with the token endpoint answering once."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def token_stub(rsps, token="AT1", expires_in=3600):
    """Register one successful refresh-token exchange."""
    basic = base64.b64encode(b"client-1:secret-1").decode()
    return rsps.post(AUTH + "/token", json={"access_token": token, "token_type": "Bearer", "expires_in": expires_in},
                     match=[matchers.header_matcher({"Authorization": "Basic " + basic}),
                            matchers.urlencoded_params_matcher({"grant_type": "refresh_token",
                                                                "refresh_token": "RT1"})])


class Clock:
    """A settable UNIX clock."""

    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    """The client's clock."""
    return Clock()


@pytest.fixture
def client(clock):
    """A client for seller 'store' with the demo key and pacing off."""
    with YahooClient("store", "client-1", "secret-1", "RT1", demo_public_key_pem(), 3, api_base=API, auth_base=AUTH,
                     rate=None, clock=clock) as c:
        yield c


def decrypt(signature):
    """What the mall sees after decrypting X-sws-signature with its private key."""
    return PRIVATE.decrypt(base64.b64decode(signature), padding.PKCS1v15()).decode()


def test_first_call_refreshes_token_and_signs_with_public_key(rsps, client):
    """Bearer token from the refresh grant; X-sws-signature decrypts to 'sellerId:unixtime'; version header."""
    token_stub(rsps)
    rsps.get(API + "/externalTalkList", json={"summary": {}, "headlines": []},
             headers={"X-SWS-Authorize-Status": "authorized"},
             match=[matchers.header_matcher({"Authorization": "Bearer AT1", "X-sws-signature-version": "3"}),
                    matchers.query_param_matcher({"sellerId": "store", "start": "1", "result": "20"})])
    assert client.list().headlines == []
    sent = rsps.calls[1].request
    assert decrypt(sent.headers["X-sws-signature"]) == f"store:{NOW}"
    assert client.authorize_status == "authorized" and client.token.expires_at == NOW + 3600
    assert rsps.calls[1].request.req_kwargs["timeout"] == (5.0, 20.0)


def test_signature_is_fresh_per_request(client):
    """PKCS#1 v1.5 encryption is randomised; each value still decrypts to the current time."""
    a, b = client.signature(NOW), client.signature(NOW + 5)
    assert a != b and decrypt(a) == f"store:{NOW}" and decrypt(b) == f"store:{NOW + 5}"


def test_token_is_reused_until_shortly_before_expiry(rsps, client, clock):
    """The access token is cached for its lifetime minus a margin, then refreshed."""
    token_stub(rsps, "AT1")
    rsps.get(API + "/externalTalkList", json={"headlines": []}, match=[matchers.header_matcher(
        {"Authorization": "Bearer AT1"})])
    rsps.get(API + "/externalTalkList", json={"headlines": []}, match=[matchers.header_matcher(
        {"Authorization": "Bearer AT1"})])
    client.list()
    clock.now += 3000
    client.list()
    clock.now += 560  # within 60 s of expiry
    rsps.replace(responses.POST, AUTH + "/token", json={"access_token": "AT2", "expires_in": "3600"})
    rsps.get(API + "/externalTalkList", json={"headlines": []}, match=[matchers.header_matcher(
        {"Authorization": "Bearer AT2"})])
    client.list()
    assert client.token.access_token == "AT2"


def test_list_parses_headlines_with_string_numbers_and_booleans(rsps, client):
    """Headlines accept UNIX times as numbers or strings and booleans as strings."""
    token_stub(rsps)
    odd = HEADLINE | {"userPostTime": "1784252091", "isUnread": "true", "category": "11", "title": "在庫\nについて"}
    rsps.get(API + "/externalTalkList", json={"summary": {"filter": "all", "unansweredCount": "1",
                                                          "topic": {"start": 1, "end": 2, "count": "2"}},
                                              "headlines": [HEADLINE, odd]})
    page = client.list()
    assert (page.start, page.end, page.count, page.unanswered_count) == (1, 2, 2, 1)
    first, second = page.headlines
    assert first.topic_id == "33c2dfab10ef4a" and first.user_masked_id == "ab***" and first.order_id == "store-10050744"
    assert first.user_post_time == dt.datetime.fromtimestamp(1784252091, JST) == second.user_post_time
    assert second.is_unread is True and second.category == 11 and second.title == "在庫 について"
    assert first.seller_post_time is None


def test_list_sends_filters(rsps, client):
    """Filters: requestFilter comma-joined, dateType with UNIX-second dates, qaType, isPrivate, sort."""
    token_stub(rsps)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rsps.get(API + "/externalTalkList", json={"headlines": []}, match=[matchers.query_param_matcher({
        "sellerId": "store", "start": "21", "result": "20", "requestFilter": "unanswered,answered",
        "dateType": "userPostTime", "startDate": str(int(start.timestamp())), "endDate": "1784252091",
        "qaType": "order", "isPrivate": "true", "sort": "userPostTime", "sortOrder": "desc"})])
    client.list(21, request_filter=["unanswered", "answered"], date_type="userPostTime", start_date=start,
                end_date=1784252091, qa_type="order", is_private=True, sort="userPostTime", sort_order="desc")


@pytest.mark.parametrize("kw", [{"result": 21}, {"result": 0}, {"start": 0},
                                {"date_type": "userPostTime"}])
def test_list_refuses_what_the_api_rejects(client, kw):
    """result ≤ 20, start ≥ 1 and dates with dateType are checked before sending."""
    with pytest.raises(InvalidRequest):
        client.list(**kw)


def test_iter_topics_pages_past_20(rsps, client):
    """45 topics are read as pages starting at 1, 21 and 41."""
    token_stub(rsps)
    heads = [HEADLINE | {"topicId": f"t{n:02d}"} for n in range(45)]
    for start in (1, 21, 41):
        chunk = heads[start - 1:start + 19]
        rsps.get(API + "/externalTalkList", json={"summary": {"topic": {"start": start, "end": start + len(chunk) - 1,
                                                                        "count": 45}}, "headlines": chunk},
                 match=[matchers.query_param_matcher({"sellerId": "store", "start": str(start), "result": "20"})])
    assert [h.topic_id for h in client.iter_topics()] == [h["topicId"] for h in heads]


def test_detail_parses_topic_and_messages(rsps, client):
    """Detail casing (itemcode/orderid/userMaskedIdx), string booleans, messages oldest first, files."""
    token_stub(rsps)
    rsps.get(API + "/externalTalkDetail", json=DETAIL,
             match=[matchers.query_param_matcher({"sellerId": "store", "topicId": "33c2dfab10ef4a"})])
    topic = client.detail("33c2dfab10ef4a")
    assert topic.title == "在庫 について" and topic.item_code == "item-1" and topic.order_id == "store-10050744"
    assert topic.user_masked_id == "ab***" and topic.is_seller_unread is True and topic.category_name == "商品の質問"
    assert [(m.id, m.sender) for m in topic.messages] == [("1", "user"), ("2", "seller")]
    assert topic.messages[0].text == "在庫ありますか\n急ぎです"
    assert topic.messages[0].files[0] == YahooFile("photo.jpg", "s/t/20180901000000_USER.png", "jpg", 12345,
                                                   "https://t.example/1")
    assert topic.seller_last_read == dt.datetime.fromtimestamp(1784250291, JST)


@pytest.mark.parametrize("body", [b'{"topic": {"title": "x"}, "messages": [{"messageId": 1, "bo',
                                  b'{"messages": []}', b'{"topic": [], "messages": []}',
                                  b'{"topic": {}, "messages": [{"messageId": "one"}]}',
                                  b'{"topic": {}, "messages": {"a": 1}}'])
def test_malformed_detail_raises(rsps, client, body):
    """Truncated JSON and wrong types raise MalformedResponse."""
    token_stub(rsps)
    rsps.get(API + "/externalTalkDetail", body=body, content_type="application/json")
    with pytest.raises(MalformedResponse):
        client.detail("t1")


def test_post_sends_body_and_files_and_reads_lowercase_response(rsps, client):
    """externalTalkAdd: JSON {sellerId, body, fileList}; response keys topicid/messageid/postdate."""
    token_stub(rsps)
    rsps.post(API + "/externalTalkAdd", json={"topicid": "t1", "messageid": 4, "postdate": "1784254138"}, match=[
        matchers.query_param_matcher({"topicId": "t1"}),
        matchers.json_params_matcher({"sellerId": "store", "body": "ございます。\nお待ちください。", "fileList": [
            {"fileName": "a.jpg", "filePath": "store/t1/key.jpg", "fileExt": "jpg"}]})])
    result = client.post("t1", "ございます。\r\nお待ちください。", [YahooFile("a.jpg", "store/t1/key.jpg", "jpg")])
    assert (result.topic_id, result.message_id) == ("t1", "4")
    assert result.posted_at == dt.datetime.fromtimestamp(1784254138, JST)


@pytest.mark.parametrize("body, topic", [("", "t1"), ("あ" * 2001, "t1"), ("ok", "../x"), ("ok", "")])
def test_post_limits(client, body, topic):
    """Empty or >2000-char bodies and bad topic ids are refused before sending."""
    with pytest.raises(InvalidRequest):
        client.post(topic, body)


def test_read_and_complete(rsps, client):
    """Read and complete PUT {sellerId[, completeConditionId]} and expect status ok."""
    token_stub(rsps)
    rsps.put(API + "/externalTalkRead", json={"status": "ok"}, match=[
        matchers.query_param_matcher({"topicId": "t1"}), matchers.json_params_matcher({"sellerId": "store"})])
    rsps.put(API + "/externalTalkComplete", json={"status": "ok"}, match=[
        matchers.json_params_matcher({"sellerId": "store", "completeConditionId": 5})])
    rsps.put(API + "/externalTalkComplete", json={"status": "ng"})
    client.mark_read("t1")
    client.complete("t1", 5)
    with pytest.raises(PermanentMallError):
        client.complete("t1")
    with pytest.raises(InvalidRequest):
        client.complete("t1", 7)


def test_file_upload_download_delete(rsps, client):
    """File add is multipart with topicId+sellerId; download returns raw bytes; delete expects ok."""
    token_stub(rsps)
    rsps.post(API + "/externalTalkFileAdd", json={"ResultSet": {"Result": {"objectKey": "store/t1/k.png"}}},
              match=[matchers.query_param_matcher({"topicId": "t1", "sellerId": "store"})])
    rsps.get(API + "/externalTalkFileDownload", body=b"\x89PNG", content_type="image/png",
             match=[matchers.query_param_matcher({"sellerId": "store", "key": "store/t1/k.png"})])
    rsps.delete(API + "/externalTalkFileDelete", json={"status": "ok"})
    uploaded = client.upload("t1", "k.png", b"\x89PNG")
    assert uploaded.object_key == "store/t1/k.png" and uploaded.file_ext == "png"
    assert b'name="file"; filename="k.png"' in rsps.calls[1].request.body
    got = client.download("store/t1/k.png")
    assert (got.content, got.content_type, got.filename) == (b"\x89PNG", "image/png", "k.png")
    client.delete_file("store/t1/k.png")
    with pytest.raises(InvalidRequest):
        client.upload("t1", "virus.exe", b"MZ")


EXPIRED = {"WWW-Authenticate": 'Bearer realm="yahooapis.jp", error="invalid_token", error_description="expired token"'}


def test_expired_access_token_is_refreshed_once_and_retried(rsps, client):
    """A 401 invalid_token refreshes the token and repeats the call once."""
    token_stub(rsps, "AT1")
    rsps.get(API + "/externalTalkDetail", status=401, headers=EXPIRED, body="<Error><Message>expired</Message></Error>",
             match=[matchers.header_matcher({"Authorization": "Bearer AT1"})])
    rsps.get(API + "/externalTalkDetail", json=DETAIL, match=[matchers.header_matcher({"Authorization": "Bearer AT2"})])
    rsps.add_callback(responses.POST, AUTH + "/token", callback=lambda r: (200, {}, json.dumps(
        {"access_token": "AT2", "expires_in": 3600})))
    assert client.detail("t1").title == "在庫 について"


def test_token_still_rejected_after_refresh_is_an_auth_error(rsps, client):
    """Two invalid_token answers in a row give MallAuthError(invalid_token)."""
    rsps.add_callback(responses.POST, AUTH + "/token", callback=lambda r: (200, {}, json.dumps(
        {"access_token": "ATx", "expires_in": 3600})))
    rsps.get(API + "/externalTalkDetail", status=401, headers=EXPIRED, body="<Error><Message>Invalid</Message></Error>")
    with pytest.raises(MallAuthError) as err:
        client.detail("t1")
    assert err.value.code == "invalid_token" and len([c for c in rsps.calls if "/token" in c.request.url]) == 2


@pytest.mark.parametrize("status, body, code, words", [
    (400, {"error": "invalid_grant", "error_description": "expired refresh token"}, "invalid_grant", "再認可"),
    (401, {"error": "invalid_client", "error_description": "bad secret"}, "invalid_client", "クライアントID"),
])
def test_token_refresh_failures_are_auth_errors(rsps, client, status, body, code, words):
    """An expired refresh token or a wrong client secret is a MallAuthError with a Japanese hint."""
    rsps.post(AUTH + "/token", status=status, json=body)
    with pytest.raises(MallAuthError) as err:
        client.list()
    assert err.value.code == code and words in err.value.explanation_ja


XML_104102 = ('<?xml version="1.0" encoding="UTF-8"?><Error><Message>AccessToken has been expired. This API session '
              'is shorter than another API.</Message><Code>px-04102</Code></Error>')


@pytest.mark.parametrize("status, body, ctype, error, code", [
    (401, XML_104102, "application/xml", MallAuthError, "px-04102"),
    (403, "<Error><Message>Access denied</Message><Code>px-04306</Code></Error>", "application/xml", MallAuthError,
     "px-04306"),
    (403, "<Error><Message>not approved</Message><Code>px-04303</Code></Error>", "application/xml", MallAuthError,
     "px-04303"),
    (400, "<Error><Message>business id px-14303 not registered</Message></Error>", "application/xml", MallAuthError,
     "px-14303"),
    (403, "<Error><Message>seller</Message><Code>px-14304</Code></Error>", "application/xml", MallAuthError,
     "px-14304"),
    (404, "<Error><Message>Unknown URL</Message><Code>px-04400</Code></Error>", "application/xml", NotFound,
     "px-04400"),
    (400, '{"error": {"reason": "topicId is invalid"}}', "application/json", PermanentMallError, None),
    (400, "<Error><Message>broken", "application/xml", PermanentMallError, None),
    (429, "<Error><Message>Too Many Requests</Message></Error>", "application/xml", RateLimited, None),
    (500, "<Error><Message>Internal Server Error</Message></Error>", "application/xml", TemporaryMallError, None),
    (503, "", "text/html", TemporaryMallError, None),
])
def test_error_shapes_map_to_typed_errors(rsps, client, status, body, ctype, error, code):
    """XML <Error> and JSON {"error": {"reason"}} bodies map by status and px- code."""
    token_stub(rsps)
    rsps.get(API + "/externalTalkDetail", status=status, body=body, content_type=ctype)
    with pytest.raises(error) as err:
        client.detail("t1")
    assert type(err.value) is error and err.value.code == code and err.value.mall == "yahoo"
    assert err.value.explanation_ja


def test_japanese_explanations_for_signature_and_ip(rsps, client):
    """px-04102 points at the public key (after one token refresh and retry); px-04306 at the source IP."""
    token_stub(rsps)
    for _ in range(2):
        rsps.get(API + "/externalTalkDetail", status=401, body=XML_104102, content_type="application/xml")
    rsps.get(API + "/externalTalkDetail", status=403, content_type="application/xml",
             body="<Error><Message>x</Message><Code>px-04306</Code></Error>")
    with pytest.raises(MallAuthError) as first:
        client.detail("t1")
    with pytest.raises(MallAuthError) as second:
        client.detail("t1")
    assert "公開鍵" in first.value.explanation_ja and "IPアドレス" in second.value.explanation_ja


def test_error_body_with_http_200_is_still_an_error(rsps, client):
    """Yahoo may answer 200 with an XML <Error>: it is raised, not parsed as data."""
    token_stub(rsps)
    rsps.get(API + "/externalTalkList", body=XML_104102, content_type="application/xml",
             headers={"X-SWS-Authorize-Status": "unauthorized"})
    with pytest.raises(MallAuthError):
        client.list()
    assert client.authorize_status == "unauthorized"


def test_rate_limited_has_retry_after(rsps, client):
    """429 with Retry-After is RateLimited(retry_after)."""
    token_stub(rsps)
    rsps.get(API + "/externalTalkList", status=429, headers={"Retry-After": "2"}, body="")
    with pytest.raises(RateLimited) as err:
        client.list()
    assert err.value.retry_after == 2.0


def test_public_key_loading():
    """Public key PEM, or the private key PEM, is accepted; anything else is a ValueError."""
    assert load_public_key(demo_public_key_pem()).key_size == 2048
    assert load_public_key(DEMO_PRIVATE_KEY_PEM).key_size == 2048
    with pytest.raises(ValueError):
        load_public_key("not a key")


def test_url_encoding_of_topic_ids(rsps, client):
    """Topic ids go out as query parameters, never spliced into the path."""
    token_stub(rsps)
    rsps.get(API + "/externalTalkDetail", json=DETAIL)
    client.detail("abc_DEF-123")
    query = urllib.parse.urlparse(rsps.calls[1].request.url).query
    assert "topicId=abc_DEF-123" in query


def test_iter_topics_without_summary_stops_at_a_short_page(rsps, client):
    """No summary count: pages continue while full (20) and stop at a short one."""
    token_stub(rsps)
    heads = [HEADLINE | {"topicId": f"t{n:02d}"} for n in range(25)]
    rsps.get(API + "/externalTalkList", json={"headlines": heads[:20]},
             match=[matchers.query_param_matcher({"sellerId": "store", "start": "1", "result": "20"})])
    rsps.get(API + "/externalTalkList", json={"headlines": heads[20:]},
             match=[matchers.query_param_matcher({"sellerId": "store", "start": "21", "result": "20"})])
    assert len(list(client.iter_topics())) == 25


def test_iter_topics_stops_if_the_mall_ignores_start(rsps, client):
    """A mall answering page 1 again for start=21 does not loop forever."""
    token_stub(rsps)
    heads = [HEADLINE | {"topicId": f"t{n:02d}"} for n in range(20)]
    rsps.get(API + "/externalTalkList", json={"summary": {"topic": {"count": 40}}, "headlines": heads})
    assert len(list(client.iter_topics())) == 20 and len(rsps.calls) == 3


def test_missing_message_ids_fall_back_to_position(rsps, client):
    """Messages without messageId get their 1-based position; replies without id their 0-based one."""
    token_stub(rsps)
    rsps.get(API + "/externalTalkDetail", json={"topic": {}, "messages": [{"body": "a"}, {"body": "b"}]})
    assert [m.id for m in client.detail("t1").messages] == ["1", "2"]


def test_make_private(rsps, client):
    """externalTalkPrivate PUTs {sellerId} and expects status ok."""
    token_stub(rsps)
    rsps.put(API + "/externalTalkPrivate", json={"status": "ok"}, match=[
        matchers.query_param_matcher({"topicId": "t1"}), matchers.json_params_matcher({"sellerId": "store"})])
    client.make_private("t1")
