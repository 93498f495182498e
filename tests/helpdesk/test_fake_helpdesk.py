"""fake-helpdesk: as strict as the real API on the token, the limit, the content type and the contacts."""
import json

import pytest

from plugin.helpdesk.fake import create_fake_helpdesk
from plugin.helpdesk.fake.seed import DEMO_TOKEN
from plugin.helpdesk.fake.state import FakeHelpdeskState

AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}
CREATE = "/api/v2/customer_groups/1/customers/create"


@pytest.fixture
def clock():
    """The fake's clock, moved by hand."""
    return [1_800_000_000.0]


@pytest.fixture
def fake(clock):
    """A test client of the fake helpdesk with the real limit (60 a minute) and a hand-moved clock."""
    state = FakeHelpdeskState(clock=lambda: clock[0])
    return create_fake_helpdesk(state).test_client()


def _post(fake, path, body, headers=AUTH):
    return fake.post(path, data=json.dumps(body), headers={**headers, "Content-Type": "application/json"})


def _contact(**extra):
    return {"last_name": "山田", "first_name": "太郎", "emails": [{"email": "taro@example.jp"}], **extra}


def test_wrong_or_missing_token_is_401(fake):
    """No token or an unknown one: 401 with the API's error body."""
    assert fake.get("/api/v2/customer_groups").status_code == 401
    answer = fake.get("/api/v2/customer_groups", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401 and answer.get_json() == {"message": "invalid token"}


def test_the_61st_request_of_a_minute_is_403_with_rate_limit_headers(fake, clock):
    """60 requests a minute per token; the 61st gets 403; the headers count down to Reset; a new minute resets."""
    for n in range(60):
        answer = fake.get("/api/v2/customer_groups", headers=AUTH)
        assert answer.status_code == 200
        assert answer.headers["X-RateLimit-Remaining"] == str(59 - n)
    over = fake.get("/api/v2/customer_groups", headers=AUTH)
    assert over.status_code == 403 and over.headers["X-RateLimit-Remaining"] == "0"
    assert int(over.headers["X-RateLimit-Reset"]) == 1_800_000_060
    clock[0] += 60
    assert fake.get("/api/v2/customer_groups", headers=AUTH).status_code == 200


def test_writes_without_the_json_content_type_are_415(fake):
    """POST/PUT without `Content-Type: application/json` are refused with 415."""
    answer = fake.post(CREATE, data=json.dumps(_contact()), headers={**AUTH, "Content-Type": "text/plain"})
    assert answer.status_code == 415


def test_create_read_update_delete(fake):
    """A contact is created, found by system_id1 and by e-mail, updated (lists replaced) and deleted."""
    created = _post(fake, CREATE, _contact(system_id1="M1", archived_emails=[{"email": "old@example.jp"}]))
    assert created.status_code == 200 and created.get_json()["customer_id"]
    by_email = fake.get("/api/v2/customer_groups/1/customers/email/OLD@example.jp", headers=AUTH).get_json()
    assert by_email["system_id1"] == "M1"
    put = fake.put("/api/v2/customer_groups/1/customers/system_id1/M1", headers={**AUTH, "Content-Type": "application/json"},
                   data=json.dumps({"archived_emails": [], "tels": [{"tel": "090-1111-2222"}]}))
    assert put.status_code == 200 and put.get_json()["archived_emails"] == [] and put.get_json()["tels"]
    assert fake.delete("/api/v2/customer_groups/1/customers/system_id1/M1", headers=AUTH).status_code == 200
    assert fake.get("/api/v2/customer_groups/1/customers/system_id1/M1", headers=AUTH).status_code == 404


@pytest.mark.parametrize("body,message", [
    (_contact(archived_emails=[{"email": f"a{i}@example.jp"} for i in range(7)]), "at most 6"),
    (_contact(archived_tels=[{"tel": f"090-0000-000{i}"} for i in range(4)]), "at most 3"),
    ({"first_name": "太郎"}, "last_name is required"),
    (_contact(emails=[{"email": "not-an-address"}]), "not a valid email"),
    (_contact(nickname="x"), "unknown parameter"),
    (_contact(archived_emails=[{"email": "TARO@example.jp"}]), "same address twice"),
])
def test_bad_contacts_are_400_with_a_message(fake, body, message):
    """Too many archived addresses or phones, no last name, a malformed address, an unknown field: 400."""
    answer = _post(fake, CREATE, body)
    assert answer.status_code == 400 and message in answer.get_json()["message"]


def test_an_email_of_another_contact_is_400(fake):
    """An address (main or archived) already on another contact of the book is refused."""
    assert _post(fake, CREATE, _contact(system_id1="M1", archived_emails=[{"email": "x@example.jp"}])).status_code == 200
    taken = _post(fake, CREATE, {"last_name": "鈴木", "emails": [{"email": "X@example.jp"}]})
    assert taken.status_code == 400 and "already been taken" in taken.get_json()["message"]
    again = _post(fake, CREATE, {"last_name": "鈴木", "system_id1": "M1", "emails": [{"email": "s@example.jp"}]})
    assert again.status_code == 400 and "system_id1" in again.get_json()["message"]


def test_unknown_address_book_is_404(fake):
    """A book ID that does not exist: 404."""
    assert _post(fake, "/api/v2/customer_groups/99/customers/create", _contact()).status_code == 404


def test_page_lists_the_address_book(fake):
    """The HTML page shows each book with its contacts (names as sent, outside JIS X 0208 too)."""
    _post(fake, CREATE, _contact(last_name="髙橋", first_name="𠮷", system_id1="100001"))
    html = fake.get("/").get_data(as_text=True)
    assert "デモ店舗のお客様" in html and "髙橋 𠮷" in html and "100001" in html and "taro@example.jp" in html


def test_control_api_injects_faults(fake):
    """/_control/faults makes the next matching request fail with the given status."""
    assert fake.post("/_control/faults", json={"status": 503, "count": 1}).status_code == 200
    assert fake.get("/api/v2/customer_groups", headers=AUTH).status_code == 503
    assert fake.get("/api/v2/customer_groups", headers=AUTH).status_code == 200
    state = fake.get("/_control/state").get_json()
    assert state["requests"] == 2 and state["books"]["1"]["contacts"] == 0
