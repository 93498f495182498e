"""The helpdesk API client against recorded answers (responses): headers, errors, retries, limits."""
import json
import re

import pytest
import requests
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from plugin.helpdesk import api as hd
from plugin.helpdesk.ratelimit import SharedLimit, token_fingerprint, unix_now

BASE = "https://shop.relationapp.jp/api/v2"
HEADERS = {"Authorization": "Bearer tok-1", "Content-Type": "application/json"}


def _api(**kwargs):
    kwargs.setdefault("sleep", kwargs.pop("waits", []).append)
    return hd.HelpdeskApi(BASE, "tok-1", **kwargs)


@pytest.mark.parametrize("method,call", [
    ("GET", lambda a: a.customer_groups()),
    ("GET", lambda a: a.get_by_system_id(1, "M1")),
    ("POST", lambda a: a.create(1, {"last_name": "山田"})),
    ("PUT", lambda a: a.update_by_email(1, "a@example.jp", {"last_name": "山田"})),
    ("DELETE", lambda a: a.delete_by_system_id(1, "M1")),
])
def test_every_request_carries_the_token_and_the_json_content_type(rsps, method, call):
    """Whatever the method, the request has `Authorization: Bearer` and `Content-Type: application/json`."""
    rsps.add(method, re.compile(re.escape(BASE) + "/.*"), json={}, match=[matchers.header_matcher(HEADERS)])
    call(_api())
    assert rsps.calls[0].request.headers["Content-Type"] == "application/json"


def test_body_is_utf8_json_with_names_outside_jis_x_0208_unchanged(rsps):
    """Names like 髙橋 𠮷 go out as they are, in UTF-8 JSON (no escaping, no replacement)."""
    body = {"last_name": "髙橋", "first_name": "𠮷", "emails": [{"email": "a@example.jp"}]}
    rsps.post(f"{BASE}/customer_groups/3/customers/create", json={"customer_id": 9},
              match=[matchers.json_params_matcher(body)])
    assert _api().create(3, body) == {"customer_id": 9}
    raw = rsps.calls[0].request.body
    assert "髙橋".encode() in raw and "𠮷".encode() in raw and json.loads(raw) == body


def test_addresses_in_paths_are_percent_encoded(rsps):
    """A relay address's '+' reaches the server as %2B (not a space); '@' stays readable."""
    rsps.get(f"{BASE}/customer_groups/1/customers/email/r%2Br1.abc.def@reply.example.jp", json={"customer_id": 1})
    rsps.get(f"{BASE}/customer_groups/1/customers/system_id1/tea%3A100%2F1", json={"customer_id": 2})
    api = _api()
    assert api.get_by_email(1, "r+r1.abc.def@reply.example.jp")["customer_id"] == 1
    assert api.get_by_system_id(1, "tea:100/1")["customer_id"] == 2


@pytest.mark.parametrize("status,error", [(400, hd.Refused), (401, hd.AuthFailed), (404, hd.NotFound),
                                          (415, hd.HelpdeskError)])
def test_client_errors_are_typed_and_carry_the_helpdesk_message(rsps, status, error):
    """400/401/404/415 become typed errors with the `message` of the body; none is retried."""
    rsps.get(f"{BASE}/customer_groups", status=status, json={"message": "email has already been taken"})
    with pytest.raises(error) as caught:
        _api().customer_groups()
    assert caught.value.status == status and caught.value.message == "email has already been taken"
    assert len(rsps.calls) == 1


def test_server_errors_are_retried_with_backoff():
    """500 → 503 → 200: retried with plugin.retry's growing waits, then the answer."""
    with responses.RequestsMock(registry=OrderedRegistry) as mock:
        url = f"{BASE}/customer_groups"
        mock.get(url, status=500, json={"message": "boom"})
        mock.get(url, status=503, json={"message": "maintenance"})
        mock.get(url, json=[{"customer_group_id": 1, "name": "顧客"}])
        waits = []
        assert _api(waits=waits).customer_groups()[0]["customer_group_id"] == 1
    assert waits == [1.0, 2.0]


def test_server_errors_give_up_after_the_attempts(rsps):
    """A helpdesk that stays at 503 raises Unavailable (retryable) after `attempts` tries."""
    rsps.get(f"{BASE}/customer_groups", status=503, json={"message": "maintenance"})
    with pytest.raises(hd.Unavailable) as caught:
        _api(attempts=3).customer_groups()
    assert caught.value.retryable and caught.value.status == 503 and len(rsps.calls) == 3


def test_timeouts_and_dropped_connections_are_unavailable(rsps):
    """Network failures are Unavailable with no status, retried like 5xx."""
    rsps.get(f"{BASE}/customer_groups", body=requests.ConnectTimeout("slow"))
    rsps.get(f"{BASE}/customer_groups", body=requests.ConnectionError("reset"))
    with pytest.raises(hd.Unavailable) as caught:
        _api(attempts=2).customer_groups()
    assert caught.value.status is None and "cannot connect" in caught.value.message


def test_403_waits_for_the_reset_when_allowed(app, clock_pinned):
    """A 403 blocks the token until X-RateLimit-Reset; with max_wait ≥ that, the call waits and goes on."""
    reset = int(unix_now()) + 20
    waits = []
    with responses.RequestsMock(registry=OrderedRegistry) as mock:
        url = f"{BASE}/customer_groups"
        mock.get(url, status=403, json={"message": "rate limit exceeded"},
                 headers={"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
        mock.get(url, json=[])

        def sleep(seconds):
            waits.append(seconds)
            clock_pinned.advance(seconds=seconds)
        api = hd.HelpdeskApi(BASE, "tok-1", limit=SharedLimit(token_fingerprint("tok-1")), max_wait=60, sleep=sleep)
        assert api.customer_groups() == []
    assert sum(waits) >= 20 and api.requests == 2


def test_403_beyond_the_allowed_wait_raises_rate_limited(app, rsps, clock_pinned):
    """With a shorter max_wait the caller hears RateLimited with the seconds to wait."""
    rsps.get(f"{BASE}/customer_groups", status=403, json={"message": "rate limit exceeded"},
             headers={"X-RateLimit-Reset": str(int(unix_now()) + 45)})
    with pytest.raises(hd.RateLimited) as caught:
        hd.HelpdeskApi(BASE, "tok-1", limit=SharedLimit(token_fingerprint("tok-1")), max_wait=5).customer_groups()
    assert 44 <= caught.value.wait <= 45


def test_non_json_success_is_unavailable(rsps):
    """A 200 with an HTML maintenance page is not taken as an answer."""
    rsps.get(f"{BASE}/customer_groups", body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(hd.Unavailable):
        _api(attempts=1).customer_groups()
