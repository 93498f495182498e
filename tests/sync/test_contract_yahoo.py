"""docs/mall-apis.md §2 (Yahoo! Shopping externalTalk*) read line by line: every variant the document says
can occur, fed to YahooClient through `responses`. Facts already pinned in test_yahoo_client.py
are not repeated here; this file holds the ones it did not cover."""
import base64
import datetime as dt
import logging

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from responses import matchers

from sync.malls.errors import MalformedResponse, MallAuthError, PermanentMallError, RateLimited
from sync.malls.fields import JST
from sync.malls.yahoo.client import YahooClient, YahooFile
from tests.sync.test_yahoo_client import API, AUTH, DETAIL, HEADLINE, NOW, XML_104102, Clock

POSTED = dt.datetime.fromtimestamp(1784252091, JST)
EXPIRED = {"WWW-Authenticate": 'Bearer realm="yahooapis.jp", error="invalid_token", error_description="expired token"'}


@pytest.fixture(scope="module")
def key():
    """A store key pair made for this test module (the mall keeps the private half)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def clock():
    """The client's settable UNIX clock."""
    return Clock()


@pytest.fixture
def client(key, clock):
    """A client for seller 'snbx-store' holding only the generated public key, key version 7, pacing off."""
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with YahooClient("snbx-store", "cid", "csecret", "RT1", pem.decode(), 7, api_base=API, auth_base=AUTH, rate=None,
                     clock=clock) as c:
        yield c


def token(rsps, access="AT1", **extra):
    """One successful refresh-token exchange (Basic client auth, form parameters)."""
    basic = base64.b64encode(b"cid:csecret").decode()
    return rsps.post(AUTH + "/token", json={"access_token": access, "token_type": "Bearer", "expires_in": 3600} | extra,
                     match=[matchers.header_matcher({"Authorization": "Basic " + basic}),
                            matchers.urlencoded_params_matcher({"grant_type": "refresh_token",
                                                                "refresh_token": "RT1"})])


def listing(*headlines, **summary):
    """An externalTalkList body."""
    return {"summary": {"filter": "all", "unansweredCount": 0, "topic": summary or {"start": 1, "end": len(headlines),
                                                                                     "count": len(headlines)}},
            "headlines": list(headlines)}


def detail(topic=None, messages=None):
    """An externalTalkDetail body: the sample with some topic fields or the messages replaced."""
    return {"topic": DETAIL["topic"] | (topic or {}), "messages": DETAIL["messages"] if messages is None else messages}


def test_signature_decrypts_with_the_stores_private_key_on_every_call(rsps, client, key, clock):
    """X-sws-signature is RSA PKCS#1 v1.5 *encryption* of 'sellerId:unix seconds', fresh per call, with its version."""
    token(rsps)
    rsps.get(API + "/externalTalkList", json=listing(),
             match=[matchers.header_matcher({"X-sws-signature-version": "7"})])
    client.list()
    clock.now += 90
    client.list()
    seen = [key.decrypt(base64.b64decode(c.request.headers["X-sws-signature"]), padding.PKCS1v15()).decode()
            for c in rsps.calls if "/externalTalkList" in c.request.url]
    assert seen == [f"snbx-store:{NOW}", f"snbx-store:{NOW + 90}"]


def test_refreshed_call_is_signed_again(rsps, client, key, clock):
    """The repeat after an invalid_token refresh carries the new token and its own signature."""
    token(rsps)
    rsps.get(API + "/externalTalkList", status=401, headers=EXPIRED, body="<Error><Message>expired</Message></Error>")
    rsps.get(API + "/externalTalkList", json=listing(),
             match=[matchers.header_matcher({"Authorization": "Bearer AT1"})])
    client.list()
    calls = [c.request for c in rsps.calls if "/externalTalkList" in c.request.url]
    assert len(calls) == 2 and all(key.decrypt(base64.b64decode(r.headers["X-sws-signature"]), padding.PKCS1v15())
                                   == f"snbx-store:{NOW}".encode() for r in calls)


def test_rotated_refresh_token_replaces_the_old_one(rsps, client):
    """A token response that carries a new refresh_token is kept for the next refresh; expires_in may be text."""
    token(rsps, refresh_token="RT2", expires_in="1800")
    rsps.get(API + "/externalTalkList", json=listing())
    client.list()
    assert client.refresh_token == "RT2" and client.token.expires_at == NOW + 1800


@pytest.mark.parametrize("value", [1784252091, "1784252091", " 1784252091 ", 1784252091000, "1784252091.0"])
def test_user_post_time_number_or_string(rsps, client, value):
    """userPostTime is UNIX seconds as a number or a string (milliseconds and decimals tolerated)."""
    token(rsps)
    rsps.get(API + "/externalTalkList", json=listing(HEADLINE | {"userPostTime": value}))
    assert client.list().headlines[0].user_post_time == POSTED


@pytest.mark.parametrize("true, false", [(True, False), ("true", "false"), ("True", "FALSE"), (1, 0), ("1", "0")])
def test_booleans_as_strings_or_numbers(rsps, client, true, false):
    """Headline and topic booleans arrive as JSON booleans or as strings/numbers."""
    token(rsps)
    rsps.get(API + "/externalTalkList", json=listing(HEADLINE | {"isUnread": true, "isNoAnswer": false,
                                                                 "isCompleted": false, "isPrivate": true}))
    rsps.get(API + "/externalTalkDetail", json=detail({"isSellerUnRead": true, "isUserUnRead": false,
                                                       "isPrivate": true, "isComplete": false, "isMail": true}))
    head = client.list().headlines[0]
    assert (head.is_unread, head.is_no_answer, head.is_completed, head.is_private) == (True, False, False, True)
    topic = client.detail("t1")
    assert (topic.is_seller_unread, topic.is_user_unread, topic.is_private, topic.is_complete, topic.is_mail) == (
        True, False, True, False, True)


def test_list_keys_in_detail_casing_and_detail_keys_in_list_casing(rsps, client):
    """itemCode/orderId/userMaskedId and itemcode/orderid/userMaskedIdx are read on both sides."""
    token(rsps)
    swapped = {k: v for k, v in HEADLINE.items() if k not in ("itemCode", "orderId", "userMaskedId")}
    swapped |= {"itemcode": "item-9", "orderid": "store-9", "userMaskedIdx": "cd***"}
    rsps.get(API + "/externalTalkList", json=listing(swapped))
    topic = {k: v for k, v in DETAIL["topic"].items() if k not in ("itemcode", "orderid", "userMaskedIdx")}
    rsps.get(API + "/externalTalkDetail", json={"topic": topic | {"itemCode": "item-8", "orderId": "store-8",
                                                                   "userMaskedId": "ef***"}, "messages": []})
    head = client.list().headlines[0]
    assert (head.item_code, head.order_id, head.user_masked_id) == ("item-9", "store-9", "cd***")
    got = client.detail("t1")
    assert (got.item_code, got.order_id, got.user_masked_id) == ("item-8", "store-8", "ef***")


def test_paging_stops_at_an_exact_multiple_of_20(rsps, client):
    """40 topics: start=1 and start=21 (result=20, the maximum), and no third call."""
    token(rsps)
    heads = [HEADLINE | {"topicId": f"t{n:02d}"} for n in range(40)]
    for start in (1, 21):
        rsps.get(API + "/externalTalkList", json=listing(*heads[start - 1:start + 19], start=start, end=start + 19,
                                                         count="40"),
                 match=[matchers.query_param_matcher({"sellerId": "snbx-store", "start": str(start), "result": "20"})])
    assert len(list(client.iter_topics())) == 40


def test_request_filter_name_and_single_value(rsps, client):
    """The filter goes out as `requestFilter` (renamed from `filter` in 2022)."""
    token(rsps)
    rsps.get(API + "/externalTalkList", json=listing(), match=[matchers.query_param_matcher(
        {"sellerId": "snbx-store", "start": "1", "result": "20", "requestFilter": "completed"})])
    client.list(request_filter="completed")


def test_message_ids_start_at_1_and_files_carry_object_keys(rsps, client):
    """messageId is a per-topic sequence from 1; fileList entries keep objectKey (or filePath) and size."""
    token(rsps)
    messages = [{"messageId": "1", "postUserType": "user", "postdate": 1784252091, "body": "a",
                 "fileList": [{"fileName": "x.pdf", "filePath": "k/x.pdf", "fileExt": "pdf", "fileSize": "2048"}]},
                {"messageId": 2, "postUserType": "SELLER", "postdate": "1784252191", "body": "b", "fileList": None}]
    rsps.get(API + "/externalTalkDetail", json=detail(messages=messages))
    got = client.detail("t1").messages
    assert [(m.id, m.sender) for m in got] == [("1", "user"), ("2", "seller")]
    assert got[0].files == (YahooFile("x.pdf", "k/x.pdf", "pdf", 2048),) and got[1].files == ()
    assert got[0].posted_at == POSTED


@pytest.mark.parametrize("name", [["商品の質問\r\nBcc: x@example.com"], "商品の質問\nBcc: x@example.com",
                                  ["商品の質問", "\u2028Bcc: x@example.com"]])
def test_category_name_is_one_line(rsps, client, name):
    """categoryName (a list or a string) becomes one header-safe line."""
    token(rsps)
    rsps.get(API + "/externalTalkDetail", json=detail({"categoryName": name}))
    value = client.detail("t1").category_name
    assert value.startswith("商品の質問") and "Bcc: x@example.com" in value and value.splitlines() == [value]


def test_crlf_in_titles_ids_and_file_names(rsps, client):
    """Title, masked id and file names from outside never carry a line break."""
    token(rsps)
    head = HEADLINE | {"title": "在庫\r\nBcc: a@b", "userMaskedId": "ab\n***"}
    rsps.get(API + "/externalTalkList", json=listing(head))
    messages = [{"messageId": 1, "postUserType": "user", "postdate": "1784252091", "body": "本文\r\n二行目",
                 "fileList": [{"fileName": "a\r\nb.jpg", "objectKey": "k", "fileExt": "jpg"}]}]
    rsps.get(API + "/externalTalkDetail", json=detail({"title": "件名\u2028続き"}, messages))
    got = client.list().headlines[0]
    topic = client.detail("t1")
    for value in (got.title, got.user_masked_id, topic.title, topic.messages[0].files[0].file_name):
        assert value.splitlines() == [value]
    assert topic.messages[0].text == "本文\r\n二行目"  # the customer's text itself is unchanged


def test_non_numeric_category_does_not_block_the_list(rsps, client):
    """An informational number of an unexpected shape (category) reads as unknown, not as a broken page."""
    token(rsps)
    rsps.get(API + "/externalTalkList", json=listing(HEADLINE | {"category": "商品について",
                                                                 "completeConditionId": "n/a"}))
    head = client.list().headlines[0]
    assert head.category is None and head.complete_condition_id is None and head.topic_id == HEADLINE["topicId"]


@pytest.mark.parametrize("body", [{"topicid": "t1", "messageid": 4, "postdate": "1784254138"},
                                  {"topicid": "t1", "messageid": "4", "postdate": 1784254138},
                                  {"ResultSet": {"Result": {"topicid": "t1", "messageid": 4,
                                                            "postdate": "1784254138"}}}])
def test_post_response_variants(rsps, client, body):
    """The post answer's lowercase keys, with numbers or strings, flat or wrapped in ResultSet."""
    token(rsps)
    rsps.post(API + "/externalTalkAdd", json=body)
    got = client.post("t1", "ありがとうございます")
    assert (got.topic_id, got.message_id, got.posted_at) == ("t1", "4", dt.datetime.fromtimestamp(1784254138, JST))


@pytest.mark.parametrize("kw", [{"status": 200, "json": {"status": "OK"}}, {"status": 200, "json": {"status": True}},
                                {"status": 200, "body": b""}, {"status": 204, "body": b""}])
def test_status_calls_accept_ok_variants(rsps, client, kw):
    """Read/complete/private/delete succeed on status ok (any case), true, an empty 200 or a 204."""
    token(rsps)
    rsps.put(API + "/externalTalkRead", **kw)
    rsps.put(API + "/externalTalkComplete", **kw)
    rsps.put(API + "/externalTalkPrivate", **kw)
    rsps.delete(API + "/externalTalkFileDelete", **kw)
    client.mark_read("t1")
    client.complete("t1", 2)
    client.make_private("t1")
    client.delete_file("k")


@pytest.mark.parametrize("body, error, code", [
    ('{"error": {"reason": "sellerId is invalid"}}', PermanentMallError, None),
    ('{"Error": {"Message": "expired", "Code": "px-04102"}}', MallAuthError, "px-04102"),
    ('<Error xmlns="urn:yahoo:jp:shp"><Message>denied</Message><Code>px-04306</Code></Error>', MallAuthError,
     "px-04306"),
])
def test_error_documents_with_http_200_are_raised(rsps, client, body, error, code):
    """An error document with HTTP 200 is a typed error, never an empty list."""
    token(rsps)
    rsps.get(API + "/externalTalkList", body=body, content_type="application/json")
    with pytest.raises(error) as err:
        client.list()
    assert type(err.value) is error and err.value.code == code and err.value.reason


def test_html_with_http_200_is_malformed(rsps, client):
    """A maintenance page with HTTP 200 is a MalformedResponse (retried later), not data."""
    token(rsps)
    rsps.get(API + "/externalTalkList", body="<html><body>メンテナンス中</body></html>", content_type="text/html")
    with pytest.raises(MalformedResponse):
        client.list()


@pytest.mark.parametrize("body", [
    '<?xml version="1.0" encoding="UTF-8"?><Error xmlns="urn:yahoo:jp"><Message>IP拒否</Message>'
    '<Code>px-04306</Code></Error>'.encode(),
    '<?xml version="1.0" encoding="Shift_JIS"?><Error><Message>IP拒否</Message><Code>px-04306</Code></Error>'
    .encode("cp932"),
    '<?xml version="1.0" encoding="EUC-JP"?><Error><Message>IP拒否</Message><Code>px-04306</Code></Error>'
    .encode("euc-jp"),
])
def test_xml_errors_in_any_namespace_or_japanese_encoding(rsps, client, body):
    """px-04306 (403, source IP) is read from namespaced or Shift_JIS/EUC-JP XML, with its message intact."""
    token(rsps)
    rsps.get(API + "/externalTalkList", status=403, body=body, content_type="application/xml")
    with pytest.raises(MallAuthError) as err:
        client.list()
    assert err.value.code == "px-04306" and err.value.reason == "IP拒否"
    assert "IPアドレス" in err.value.explanation_ja and len(rsps.calls) == 2  # no refresh for an IP refusal


def test_px_04102_refreshes_once_then_reports_the_signature(rsps, client):
    """401 px-04102 (session cap or signature): one refresh and repeat; a second refusal is MallAuthError."""
    rsps.add_callback(responses.POST, AUTH + "/token",
                      callback=lambda r: (200, {}, '{"access_token": "ATx", "expires_in": 3600}'))
    rsps.get(API + "/externalTalkList", status=401, body=XML_104102, content_type="application/xml")
    with pytest.raises(MallAuthError) as err:
        client.list()
    assert err.value.code == "px-04102" and "公開鍵" in err.value.explanation_ja
    assert [c.request.url.split("?")[0].rsplit("/", 1)[-1] for c in rsps.calls] == [
        "token", "externalTalkList", "token", "externalTalkList"]


def test_px_04102_cured_by_a_fresh_token(rsps, client):
    """When the session cap was the cause, the repeat after the refresh succeeds."""
    token(rsps)
    rsps.get(API + "/externalTalkList", status=401, body=XML_104102, content_type="application/xml")
    rsps.get(API + "/externalTalkList", json=listing(HEADLINE))
    assert len(client.list().headlines) == 1


def test_other_bearer_errors_are_named(rsps, client):
    """A 401 whose challenge names another error (insufficient_scope) carries that code, without a retry."""
    token(rsps)
    rsps.get(API + "/externalTalkList", status=401, body="",
             headers={"WWW-Authenticate": 'Bearer realm="yahooapis.jp", error="insufficient_scope"'})
    with pytest.raises(MallAuthError) as err:
        client.list()
    assert err.value.code == "insufficient_scope" and "スコープ" in err.value.explanation_ja


def test_signature_not_authorized_on_http_200_is_surfaced(rsps, client, caplog):
    """X-SWS-Authorize-Status other than 'authorized' with HTTP 200: data returned, warned once, typed problem kept."""
    token(rsps)
    rsps.get(API + "/externalTalkList", json=listing(HEADLINE), headers={"X-SWS-Authorize-Status": "unauthorized"})
    with caplog.at_level(logging.WARNING, logger="mallbridge.sync"):
        assert len(client.list().headlines) == 1
        client.list()
    warnings = [r for r in caplog.records if "X-SWS-Authorize-Status" in r.getMessage()]
    assert len(warnings) == 1 and "snbx-store" in warnings[0].getMessage()
    problem = client.authorize_problem
    assert isinstance(problem, MallAuthError) and problem.code == "sws_unauthorized" and "公開鍵" in problem.explanation_ja
    rsps.replace(responses.GET, API + "/externalTalkList", json=listing(),
                 headers={"X-SWS-Authorize-Status": "authorized"})
    client.list()
    assert client.authorize_status == "authorized" and client.authorize_problem is None


def test_rate_limited_with_an_http_date(rsps, client):
    """429 with Retry-After as an HTTP date gives RateLimited with a delay in seconds (not None)."""
    token(rsps)
    rsps.get(API + "/externalTalkList", status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, body="")
    with pytest.raises(RateLimited) as err:
        client.list()
    assert err.value.retry_after == 0.0


@pytest.mark.parametrize("body", [b'{"summary": {}, "headlines": {"topicId": "x"}}', b'{"headlines": [null]}',
                                  b'{"headlines": [{"title": "no id"}]}', b'{"summary": "all", "headlines": []}',
                                  b'{"headlines": [{"topicId": "t", "userPostTime": "yesterday"}]}',
                                  b'{"headlines": [{"topicId": "t", "isUnread": "maybe"}]}',
                                  b'{"summary": {"topic": {"count": "many"}}, "headlines": []}',
                                  b'{"headlines": [', b'', b'[]', b'"ok"'])
def test_malformed_lists_are_typed(rsps, client, body):
    """Unexpected shapes and truncated bodies in the list raise MalformedResponse, never KeyError/TypeError."""
    token(rsps)
    rsps.get(API + "/externalTalkList", body=body, content_type="application/json")
    with pytest.raises(MalformedResponse):
        client.list()


@pytest.mark.parametrize("body", [b'{"topicid": "t1"}', b'{"status": "ok"}',
                                  b'{"topicid": "t1", "messageid": {"a": 1}}'])
def test_malformed_post_answers_are_typed(rsps, client, body):
    """A post answer without a usable messageid is MalformedResponse (the reply queue then looks on the mall)."""
    token(rsps)
    rsps.post(API + "/externalTalkAdd", body=body, content_type="application/json")
    with pytest.raises(MalformedResponse):
        client.post("t1", "本文")


@pytest.mark.parametrize("body, ctype, error", [
    (XML_104102, "application/xml", MallAuthError),
    ('{"error": {"reason": "file not found"}}', "application/json;charset=UTF-8", PermanentMallError),
])
def test_file_download_answered_by_an_error_document(rsps, client, body, ctype, error):
    """An XML/JSON error document with HTTP 200 on a file download is raised, not attached as the file."""
    token(rsps)
    rsps.get(API + "/externalTalkFileDownload", body=body, content_type=ctype)
    with pytest.raises(error):
        client.download("s/t/k.png")


@pytest.mark.parametrize("body", [b'{"token_type": "Bearer", "expires_in": 3600}', b'{"access_token": "AT',
                                  b'{"access_token": ["x"]}', b'{"access_token": "AT", "expires_in": "soon"}'])
def test_malformed_token_answers_are_typed(rsps, client, body):
    """A token answer without a usable access_token or lifetime is MalformedResponse, never KeyError."""
    rsps.post(AUTH + "/token", body=body, content_type="application/json")
    with pytest.raises(MalformedResponse):
        client.list()
