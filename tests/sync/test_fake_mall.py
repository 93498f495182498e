"""The clients against the fake mall, served in-process by a werkzeug thread on a free port."""
import base64
import datetime as dt
import os
import subprocess
import sys

import pytest
import requests

from sync.fake_mall.seed import DEMO_RAKUTEN as R
from sync.fake_mall.seed import DEMO_YAHOO as Y
from sync.fake_mall.seed import add_demo_accounts, demo_public_key_pem
from sync.fake_mall.server import FakeMallServer
from sync.fake_mall.state import FakeMallState
from sync.fake_mall.world import add_inquiry, add_topic
from sync.malls.errors import (
    InvalidRequest,
    MalformedResponse,
    MallAuthError,
    PermanentMallError,
    RateLimited,
    TemporaryMallError,
)
from sync.malls.fields import JST
from sync.malls.http import RetryPolicy
from sync.malls.rakuten.client import RakutenClient, esa_header
from sync.malls.yahoo.client import YahooClient

UTC = dt.UTC
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def mall():
    """A running fake mall with the demo accounts and no rate limit."""
    state = FakeMallState(rate_limit=None)
    with state.lock:
        add_demo_accounts(state)
    with FakeMallServer(state) as server, requests.Session() as http:
        server.http = http
        yield server


def control(mall, method, path, **kw):
    """Call the control API; returns the decoded JSON."""
    resp = mall.http.request(method, mall.url + "/_control" + path, **kw)
    assert resp.status_code < 300, resp.text
    return resp.json()


@pytest.fixture
def rakuten(mall):
    """A Rakuten client for the demo shop, pacing off."""
    with RakutenClient(R["service_secret"], R["license_key"], R["shop_id"],
                       base_url=mall.bases["MALLBRIDGE_RAKUTEN_API_BASE"], rate=None) as client:
        yield client


@pytest.fixture
def yahoo(mall):
    """A Yahoo! client for the demo store, pacing off."""
    with YahooClient(Y["seller_id"], Y["client_id"], Y["client_secret"], Y["refresh_token"], demo_public_key_pem(),
                     Y["key_version"], api_base=mall.bases["MALLBRIDGE_YAHOO_API_BASE"],
                     auth_base=mall.bases["MALLBRIDGE_YAHOO_AUTH_BASE"], rate=None) as client:
        yield client


def now():
    """Aware UTC now."""
    return dt.datetime.now(UTC)


def raw_rakuten(mall, method, path, **kw):
    """A Rakuten API call that bypasses the client's own checks."""
    headers = {"Authorization": esa_header(R["service_secret"], R["license_key"])}
    return mall.http.request(method, mall.bases["MALLBRIDGE_RAKUTEN_API_BASE"] + "/inquirymng-api" + path,
                             headers=headers, **kw)


def test_rakuten_paging_over_windows(mall, rakuten):
    """150 inquiries over 50 days come back once each through ≤30-day windows and 100-row pages."""
    with mall.state.lock:
        for n in range(150):
            add_inquiry(mall.state, {"shop_id": R["shop_id"], "days_ago": n / 3 + 0.15, "message": f"問い合わせ{n}"})
    found = list(rakuten.iter_inquiries(now() - dt.timedelta(days=51), now()))
    assert len(found) == 150 == len({i.number for i in found})
    assert rakuten.count(now() - dt.timedelta(days=10), now()) == 30
    page = rakuten.list(now() - dt.timedelta(days=30), now(), limit=100, page=1)
    assert (page.total_count, page.total_pages, len(page.inquiries)) == (90, 1, 90)
    assert [i.reg_date for i in page.inquiries] == sorted((i.reg_date for i in page.inquiries), reverse=True)


@pytest.mark.parametrize("params, code, target", [
    ({"fromDate": "2026-01-01T00:00:00", "toDate": "2026-02-05T00:00:00"}, "IE001",
     "date time range should be within 31 days."),
    ({"fromDate": "2026-02-01T00:00:00", "toDate": "2026-01-05T00:00:00"}, "IE001", "date time range is invalid."),
    ({"fromDate": "2026-01-01 00:00:00", "toDate": "2026-01-05T00:00:00"}, "IE001", None),
    ({"fromDate": "2026-01-01T00:00:00", "toDate": "2026-01-05T00:00:00", "limit": "101"}, "IE001",
     "should be less than equal 100"),
    ({"fromDate": "2026-01-01T00:00:00", "toDate": "2026-01-05T00:00:00", "page": "10001"}, "IE001", None),
    ({"fromDate": "2026-01-01T00:00:00", "toDate": "2026-01-05T00:00:00", "limit": "100", "page": "101"}, "IE000",
     None),
])
def test_rakuten_list_limits(mall, params, code, target):
    """31-day windows, from ≤ to, the date regex, limit ≤ 100, page ≤ 10000 and the 10,000-row cap."""
    resp = raw_rakuten(mall, "GET", "/inquiries", params=params)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == code
    if target:
        assert target in error["targets"].values()


def test_follow_up_on_old_inquiry_is_outside_recent_window(mall, rakuten):
    """The window filters on regDate: a follow-up on a 40-day-old inquiry changes only lastUpdateDate."""
    old = control(mall, "POST", "/rakuten/inquiries", json={"days_ago": 40, "user_name": "鈴木 美咲"})
    before = rakuten.detail(old["inquiryNumber"]).last_update
    control(mall, "POST", f"/rakuten/inquiries/{old['inquiryNumber']}/messages", json={"message": "追加の質問です"})
    assert list(rakuten.iter_inquiries(now() - dt.timedelta(days=30), now())) == []
    again = rakuten.detail(old["inquiryNumber"])
    assert again.last_update > before and again.messages[-1].text == "追加の質問です"
    assert [i.number for i in rakuten.iter_inquiries(now() - dt.timedelta(days=60), now())] == [old["inquiryNumber"]]


def test_rakuten_reply_with_attachment_is_recorded(mall, rakuten):
    """Upload → reply with {label, path} → the reply appears in the inquiry and in /_control/replies."""
    inq = control(mall, "POST", "/rakuten/inquiries", json={"message": "写真を送ってください"})
    att = rakuten.upload("label.png", b"\x89PNG\r\n")
    rakuten.reply(inq["inquiryNumber"], "写真をお送りします。", att)
    detail = rakuten.detail(inq["inquiryNumber"])
    assert detail.replies[-1].id == "0" and detail.replies[-1].sender == "merchant"
    assert detail.replies[-1].attachments == (att,)
    assert rakuten.download(att).content == b"\x89PNG\r\n"
    posted = control(mall, "GET", "/replies?mall=rakuten")
    assert posted[0]["inquiry"] == inq["inquiryNumber"] and posted[0]["message"] == "写真をお送りします。"


@pytest.mark.parametrize("body, field", [
    ({"message": "あ" * 2001}, "message"), ({"message": "い" * 301}, "message"),
    ({"message": "see http://evil.example"}, "message"), ({"shopId": None}, "shopId"),
    ({"attachments": [{"label": "a.png", "path": "x"}, {"label": "b.png", "path": "y"}]}, "attachments"),
    ({"attachments": [{"label": "a.png", "path": "never-uploaded"}]}, "attachments[0].path"),
    ({"attachments": [{"label": "a" * 101 + ".png", "path": "x"}]}, "attachments[0].label"),
])
def test_rakuten_reply_limits_in_the_fake(mall, body, field):
    """The fake refuses what the real API refuses: 2000 chars, 300 per line, URLs, shopId, 1 attachment."""
    inq = control(mall, "POST", "/rakuten/inquiries", json={})
    payload = {"inquiryNumber": inq["inquiryNumber"], "shopId": str(R["shop_id"]), "message": "本文"} | body
    resp = raw_rakuten(mall, "POST", "/inquiry/reply", json=payload)
    assert resp.status_code == 400 and field in resp.json()["error"]["targets"]


def test_rakuten_upload_limits(mall):
    """Over 5 MB → 413 GF0003 errors[]; empty and bad extensions → IE001."""
    big = raw_rakuten(mall, "POST", "/attachment", files={"file": ("a.png", b"0" * (5 * 1024 * 1024 + 1))})
    assert big.status_code == 413 and big.json() == {"errors": [{"code": "GF0003",
                                                                 "message": "Request entity too large"}]}
    for name, content in [("a.png", b""), ("a.exe", b"MZ")]:
        resp = raw_rakuten(mall, "POST", "/attachment", files={"file": (name, content)})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "IE001"


def test_rakuten_batches(mall, rakuten):
    """read/complete/incomplete report already-set and unknown numbers per item; >20 is refused."""
    inq = control(mall, "POST", "/rakuten/inquiries", json={})["inquiryNumber"]
    assert rakuten.complete([inq]).ok == [inq]
    assert rakuten.complete([inq, "391234-1-1"]).errors == [(inq, "already set value as specified"),
                                                           ("391234-1-1", "not found.")]
    assert rakuten.incomplete([inq]).ok == [inq] and rakuten.mark_read([inq]).ok == [inq]
    resp = raw_rakuten(mall, "PATCH", "/inquiries/read", json={"inquiryNumbers": ["a"] * 21})
    assert resp.status_code == 400
    resp = raw_rakuten(mall, "PATCH", "/inquiries/read", json={"inquiryNumbers": ["a b"]})
    assert resp.json()["error"]["targets"] == {"inquiryNumbers[]": 'must match "^[0-9a-zA-Z-]+$"'}


def test_expired_key_then_renewal(mall, rakuten):
    """An expired key gets 401 GA0001 on every API; a new key works and reports its expiry."""
    control(mall, "POST", f"/rakuten/shops/{R['shop_id']}/key", json={"expires_in_days": -1})
    with pytest.raises(MallAuthError) as err:
        rakuten.count(now() - dt.timedelta(days=1), now())
    assert err.value.code == "GA0001" and err.value.status == 401
    with pytest.raises(MallAuthError):
        rakuten.license_expiry()
    control(mall, "POST", f"/rakuten/shops/{R['shop_id']}/key",
            json={"license_key": "SL391234_newKey", "expires_at": "2027-02-20T23:59:59"})
    with RakutenClient(R["service_secret"], "SL391234_newKey", R["shop_id"], rate=None,
                       base_url=mall.bases["MALLBRIDGE_RAKUTEN_API_BASE"]) as renewed:
        assert renewed.count(now() - dt.timedelta(days=1), now()) == 0
        assert renewed.license_expiry() == dt.datetime(2027, 2, 20, 23, 59, 59, tzinfo=JST)
    with pytest.raises(MallAuthError):  # issuing a new key kills the old one at once
        rakuten.count(now() - dt.timedelta(days=1), now())


def test_license_expiry_endpoint_shape(mall):
    """Missing licenseKey → 400 DR0005; POST → 405."""
    url = mall.bases["MALLBRIDGE_RAKUTEN_API_BASE"] + "/license-management/license-key/expiry-date"
    headers = {"Authorization": esa_header(R["service_secret"], R["license_key"])}
    assert mall.http.get(url, headers=headers).json()["errors"][0]["code"] == "DR0005"
    assert mall.http.post(url, headers=headers).status_code == 405


def test_yahoo_paging_newest_first(mall, yahoo):
    """45 topics are listed 20 per page, newest customer post first; result > 20 is refused."""
    with mall.state.lock:
        for n in range(45):
            add_topic(mall.state, {"days_ago": n, "title": f"質問{n}"})
    titles = [h.title for h in yahoo.iter_topics()]
    assert titles == [f"質問{n}" for n in range(45)]
    assert len(yahoo.list(start=41).headlines) == 5
    resp = mall.http.get(mall.bases["MALLBRIDGE_YAHOO_API_BASE"] + "/externalTalkList", params={
        "sellerId": Y["seller_id"], "result": 21}, headers=yahoo_headers(yahoo))
    assert resp.status_code == 400 and "<Error>" in resp.text


def yahoo_headers(client, signature=True):
    """Headers of a valid Yahoo call made outside the client."""
    headers = {"Authorization": "Bearer " + client._access_token()}
    if signature:
        headers |= {"X-sws-signature": client.signature(), "X-sws-signature-version": client.key_version}
    return headers


def test_yahoo_signature_is_required_and_verified(mall, yahoo):
    """No signature or a signature made with another key → 401 px-04102; a good one → authorized."""
    url = mall.bases["MALLBRIDGE_YAHOO_API_BASE"] + "/externalTalkList"
    missing = mall.http.get(url, params={"sellerId": Y["seller_id"]}, headers=yahoo_headers(yahoo, False))
    assert missing.status_code == 401 and "<Code>px-04102</Code>" in missing.text
    from sync.fake_mall.state import new_private_key
    from sync.malls.yahoo.client import load_public_key

    honest_key = yahoo.public_key
    yahoo.public_key = new_private_key().public_key()
    with pytest.raises(MallAuthError) as err:
        yahoo.list()
    assert err.value.code == "px-04102"
    yahoo.public_key = honest_key
    assert yahoo.list().count == 0 and yahoo.authorize_status == "authorized"
    published = mall.http.get(mall.url + f"/_control/yahoo/sellers/{Y['seller_id']}/public-key").text
    assert load_public_key(published).public_numbers() == honest_key.public_numbers()


def test_yahoo_stale_signature_is_refused(mall, yahoo):
    """A signature whose timestamp is far from the mall's clock is refused."""
    yahoo.clock = lambda: dt.datetime.now().timestamp() - 3600
    with pytest.raises(MallAuthError):
        yahoo.list()


def test_yahoo_token_expiry_and_refresh(mall, yahoo):
    """An expired access token is refreshed transparently; an expired refresh token is an auth error."""
    yahoo.list()
    first = yahoo.token.access_token
    control(mall, "POST", f"/yahoo/sellers/{Y['seller_id']}/tokens", json={"expire_access": True})
    yahoo.list()
    assert yahoo.token.access_token != first
    control(mall, "POST", "/config", json={"advance_seconds": 3700})  # the clock passes the 1-hour lifetime
    control(mall, "POST", f"/yahoo/sellers/{Y['seller_id']}/tokens", json={"expire_refresh": True})
    with pytest.raises(MallAuthError) as err:
        yahoo.list()
    assert err.value.code == "invalid_grant" and "再認可" in err.value.explanation_ja


def test_yahoo_source_ip_not_allowed(mall, yahoo):
    """A store that only allows other addresses answers 403 px-04306."""
    control(mall, "POST", f"/yahoo/sellers/{Y['seller_id']}/tokens",
            json={"expire_access": False, "allowed_ips": ["203.0.113.9"]})
    with pytest.raises(MallAuthError) as err:
        yahoo.list()
    assert err.value.code == "px-04306" and err.value.status == 403


def test_yahoo_conversation(mall, yahoo):
    """Customer question → detail → file upload → post → read → complete, seen by the control API."""
    topic = control(mall, "POST", "/yahoo/topics", json={"title": "在庫\r\nについて", "body": "ありますか",
                                                         "files": [{"name": "q.jpg", "content_base64":
                                                                    base64.b64encode(b"jpg").decode()}]})
    tid = topic["topicId"]
    detail = yahoo.detail(tid)
    assert detail.title == "在庫 について" and detail.messages[0].files[0].file_name == "q.jpg"
    assert yahoo.download(detail.messages[0].files[0].object_key).content == b"jpg"
    with pytest.raises(PermanentMallError):  # 通常完了 needs a reply posted through the API first
        yahoo.complete(tid)
    uploaded = yahoo.upload(tid, "a.pdf", b"%PDF-1.4")
    result = yahoo.post(tid, "ございます。", [uploaded])
    assert result.message_id == "2"
    yahoo.mark_read(tid)
    yahoo.complete(tid)
    headline = yahoo.list().headlines[0]
    assert headline.is_completed and headline.seller_post_time is not None and headline.message_count == 2
    assert control(mall, "GET", "/replies?mall=yahoo")[0]["inquiry"] == tid
    control(mall, "POST", f"/yahoo/topics/{tid}/messages", json={"body": "ありがとうございます"})
    assert yahoo.detail(tid).messages[-1].sender == "user"


def test_yahoo_file_upload_rules(mall, yahoo):
    """Files are only for private topics."""
    public = control(mall, "POST", "/yahoo/topics", json={"is_private": False})["topicId"]
    with pytest.raises(PermanentMallError):
        yahoo.upload(public, "a.png", b"\x89PNG")


@pytest.mark.parametrize("fault, error", [
    ({"kind": "status", "status": 500}, TemporaryMallError),
    ({"kind": "status", "status": 503}, TemporaryMallError),
    ({"kind": "status", "status": 429, "retry_after": 3}, RateLimited),
    ({"kind": "truncated"}, MalformedResponse),
    ({"kind": "garbage"}, MalformedResponse),
])
def test_rakuten_faults(mall, rakuten, fault, error):
    """Injected faults give typed errors; the call after the fault succeeds."""
    control(mall, "POST", "/faults", json=fault | {"mall": "rakuten", "count": 1})
    with pytest.raises(error) as err:
        rakuten.count(now() - dt.timedelta(days=1), now())
    if error is RateLimited:
        assert err.value.retry_after == 3.0
    assert rakuten.count(now() - dt.timedelta(days=1), now()) == 0


def test_timeout_fault(mall):
    """A stalled response beyond the read timeout is a TemporaryMallError(timeout)."""
    control(mall, "POST", "/faults", json={"kind": "timeout", "delay": 0.6, "mall": "rakuten"})
    with (RakutenClient(R["service_secret"], R["license_key"], R["shop_id"], timeout=(1.0, 0.2), rate=None,
                        base_url=mall.bases["MALLBRIDGE_RAKUTEN_API_BASE"]) as client,
          pytest.raises(TemporaryMallError) as err):
        client.count(now() - dt.timedelta(days=1), now())
    assert err.value.code == "timeout"


def test_faults_back_off_and_recover(mall, yahoo):
    """Two 429s then two 500s on Yahoo: the client's in-pass retries wait (Retry-After first) and get through."""
    control(mall, "POST", "/faults", json={"kind": "status", "status": 429, "retry_after": 1, "count": 2,
                                           "mall": "yahoo", "path": "externalTalkList"})
    control(mall, "POST", "/faults", json={"kind": "status", "status": 500, "count": 2, "mall": "yahoo"})
    slept = []
    yahoo.http.retry = RetryPolicy(attempts=6, sleep=slept.append, jitter=None)
    page = yahoo.list()
    assert page.count == 0 and len(slept) == 4 and slept[:2] == [1.0, 1.0]


def test_rate_limit_answers_429(mall, rakuten):
    """Above the configured requests per second the fake answers 429 with Retry-After."""
    mall.state.rate_clock = lambda: 100.0  # all three calls fall into the same second, however slow the machine
    control(mall, "POST", "/config", json={"rate_limit": {"rakuten": 2}})
    rakuten.count(now() - dt.timedelta(days=1), now())
    rakuten.count(now() - dt.timedelta(days=1), now())
    with pytest.raises(RateLimited) as err:
        rakuten.count(now() - dt.timedelta(days=1), now())
    assert err.value.retry_after == 1.0


def test_deleted_message_in_the_fake(mall, rakuten):
    """Deleting a message blanks it, as Rakuten does."""
    inq = control(mall, "POST", "/rakuten/inquiries", json={"message": "消される", "attachments": [{"label": "a.png"}]})
    control(mall, "POST", f"/rakuten/inquiries/{inq['inquiryNumber']}/delete", json={"message_id": "q"})
    first = rakuten.detail(inq["inquiryNumber"]).messages[0]
    assert first.deleted and first.text == "" and first.attachments == ()


def test_control_api_rejects_bad_input(mall):
    """Bad control requests get a 400 JSON error naming the problem, never a 500."""
    for path, body in [("/rakuten/inquiries", {"shop_id": 1}), ("/rakuten/inquiries", {"type": "雑談"}),
                       ("/faults", {"kind": "meteor"}), ("/yahoo/topics", {"seller_id": "nobody"}),
                       ("/rakuten/inquiries/none/messages", {}), ("/rakuten/inquiries", {"reg_date": "yesterday"}),
                       ("/rakuten/inquiries", {"days_ago": "lots"}), ("/yahoo/topics", {"category": "x"}),
                       ("/config", {"rate_limit": {"rakuten": "fast"}}), ("/config", {"rate_limit": [1]}),
                       ("/faults", {"count": "many"}), ("/rakuten/shops", {"shop_id": "abc", "service_secret": "a",
                                                                           "license_key": "b"}),
                       ("/yahoo/sellers", {"seller_id": "a", "client_id": "b", "client_secret": "c",
                                           "refresh_token": "d", "private_key_pem": "junk"})]:
        resp = mall.http.post(mall.url + "/_control" + path, json=body)
        assert resp.status_code == 400 and resp.json()["error"], path
    assert mall.http.post(mall.url + "/_control/faults", data="{nope").status_code == 400


def test_reset_and_seed(mall):
    """reset with seed=true gives the demo data: 3 Rakuten inquiries and 2 Yahoo! topics."""
    state = control(mall, "POST", "/reset", json={"seed": True})
    assert (state["inquiries"], state["topics"], state["posted"]) == (3, 2, 0)
    assert state["bases"]["MALLBRIDGE_RAKUTEN_API_BASE"].endswith("/rakuten/es/1.0")


def test_seeded_demo_reads_through_both_clients(mall, rakuten, yahoo):
    """The seed's inquiries parse cleanly, including the 40-day-old one with a fresh follow-up."""
    control(mall, "POST", "/reset", json={"seed": True})
    inquiries = list(rakuten.iter_inquiries(now() - dt.timedelta(days=60), now()))
    assert {i.user_name for i in inquiries} == {"山田 花子", "佐藤 一郎", "鈴木 美咲"}
    topics = list(yahoo.iter_topics())
    assert [t.title for t in topics] == ["配送日時の変更", "在庫について"]
    with pytest.raises(InvalidRequest):
        rakuten.reply(inquiries[0].number, "x" * 2001)


def test_fake_mall_runs_without_any_mallbridge_config(tmp_path):
    """`python -m sync.fake_mall` starts with no MALLBRIDGE_* env and prints the base URLs and credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLBRIDGE_")}
    key = tmp_path / "yahoo.pem"
    proc = subprocess.Popen([sys.executable, "-m", "sync.fake_mall", "--port", "0", "--seed", "--key-file", str(key)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    try:
        lines = [proc.stdout.readline() for _ in range(6)]
    finally:
        proc.terminate()
        proc.wait()
        proc.stdout.close()
    text = "".join(lines)
    assert "MALLBRIDGE_RAKUTEN_API_BASE=http://127.0.0.1:" in text and "MALLBRIDGE_YAHOO_AUTH_BASE" in text
    assert key.read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_cli_command_is_registered(runner):
    """`mallbridge fake-mall --help` lists the options."""
    result = runner.invoke(args=["fake-mall", "--help"])
    assert result.exit_code == 0 and "--seed" in result.output and "--port" in result.output


def test_token_endpoint_faults_only_when_named(mall, yahoo):
    """A fault naming /token hits the token refresh; unnamed faults are left for the API calls."""
    control(mall, "POST", "/faults", json={"kind": "status", "status": 503, "mall": "yahoo", "path": "/token"})
    with pytest.raises(TemporaryMallError):
        yahoo.list()
    control(mall, "POST", "/faults", json={"kind": "status", "status": 500, "mall": "yahoo"})
    with pytest.raises(TemporaryMallError) as err:
        yahoo.list()
    assert yahoo.token is not None and err.value.status == 500
    assert yahoo.list().count == 0


def test_make_private_allows_file_upload(mall, yahoo):
    """A public topic made private accepts files."""
    public = control(mall, "POST", "/yahoo/topics", json={"is_private": False})["topicId"]
    yahoo.make_private(public)
    assert yahoo.upload(public, "a.gif", b"GIF89a").object_key
