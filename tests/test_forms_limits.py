"""The public form is no open relay: acknowledgements per address, short excerpts, a per-IP limit that
only counts valid posts, keeps what a limited customer typed and costs other requests nothing."""
import pytest
from sqlalchemy import select

from plugin import create_app, settings
from plugin.config import ConfigError
from plugin.extensions import db
from plugin.forms import counters
from plugin.forms.models import FormSubmission
from plugin.outbox import OutboxMessage
from tests.conftest import base_config
from tests.forms_support import VALID, make_contact_form
from tests.forms_support import parse as _parse


@pytest.fixture
def contact(app):
    """The 'contact' form of the default shop (tests.forms_support)."""
    return make_contact_form()


LONG = "本日はお得なご案内です。こちらから確認してください http://evil.example/login " * 150


def _kinds():
    return [row.kind for row in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def _post(client, ip, **changes):
    return client.post("/forms/contact", json={**VALID, **changes}, environ_base={"REMOTE_ADDR": ip})


def test_one_address_gets_at_most_three_acknowledgements_a_day(client, contact, clock_pinned):
    """From any number of IPs, one recipient gets 3 acknowledgements a day; the inquiries still reach the shop."""
    for n in range(4):
        assert _post(client, f"10.0.0.{n}", email="Victim@Example.jp" if n % 2 else "victim@example.jp").status_code == 201
    assert _kinds() == ["form_shop", "form_ack"] * 3 + ["form_shop"]
    assert len(db.session.scalars(select(FormSubmission)).all()) == 4
    res = client.post("/forms/contact", data={**VALID, "email": "victim@example.jp"},
                      environ_base={"REMOTE_ADDR": "10.0.0.9"}, follow_redirects=True)
    page = res.get_data(as_text=True)
    assert "受け付けました" in page and "受付確認のメールをお送りしました" not in page
    clock_pinned.advance(hours=24, seconds=1)
    assert _post(client, "10.0.0.10", email="victim@example.jp").status_code == 201
    assert _kinds()[-2:] == ["form_shop", "form_ack"]


def test_acknowledgements_per_day_is_a_runtime_setting(client, contact):
    """An admin can lower the number of acknowledgements one address gets a day."""
    settings.set_value("forms.ack_per_day", 1, actor="admin@example.jp")
    _post(client, "10.0.1.1")
    _post(client, "10.0.1.2")
    assert _kinds() == ["form_shop", "form_ack", "form_shop"]


def test_acknowledgement_quotes_a_short_excerpt_and_the_shop_gets_everything(client, contact):
    """The acknowledgement quotes 200 characters of the text and 50 of the name; the shop's notice has it all."""
    name = "山田" + "あ" * 98
    assert _post(client, "10.0.2.1", name=name, message=LONG[:10000], category="x" * 2000).status_code == 201
    shop_mail, ack = (_parse(row) for row in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    text = ack.get_body().get_content()
    assert "（以下省略）" in text and text.count("evil.example") <= 4 and "x" * 200 not in text
    assert LONG[:150] in text and LONG[:300] not in text
    assert len(text) < 1000 and name not in text and name[:50] in text
    assert ack["To"].addresses[0].display_name.replace(" ", "") == name[:50] + "…"
    notice = shop_mail.get_body().get_content()
    assert LONG[:10000].rstrip() in notice
    assert "x" * 2000 in notice and name in notice


def test_quote_length_zero_quotes_nothing(client, contact):
    """With the excerpt setting at 0 the acknowledgement quotes none of the customer's text."""
    settings.set_value("forms.ack_quote_chars", 0, actor="admin@example.jp")
    _post(client, "10.0.3.1", message="ここに何を書いても自動返信には載りません")
    ack = _parse(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "form_ack")).one())
    assert "自動返信には載りません" not in ack.get_body().get_content()


def test_posts_needing_correction_do_not_count_against_the_ip_limit(app, client, contact):
    """Invalid posts (422) never use up the limit; the valid ones do, and the next is a 429."""
    app.config["FORMS_RATE_LIMIT"] = "2 per minute"
    for _ in range(5):
        assert client.post("/forms/contact", json={**VALID, "email": "taro@"}).status_code == 422
    assert client.post("/forms/contact", json=VALID).status_code == 201
    assert client.post("/forms/contact", json=VALID).status_code == 201
    res = client.post("/forms/contact", json=VALID)
    assert res.status_code == 429 and int(res.headers["Retry-After"]) > 0
    assert res.get_json()["retry_after"] == int(res.headers["Retry-After"])


def test_limited_customer_keeps_what_they_typed(app, client, contact):
    """A limited HTML post shows the form again with every value, a Japanese notice and Retry-After; nothing stored."""
    app.config["FORMS_RATE_LIMIT"] = "1 per minute"
    assert client.post("/forms/contact", data=VALID).status_code == 303
    res = client.post("/forms/contact", data={**VALID, "message": "二通目の内容です。", "category": "返品"})
    page = res.get_data(as_text=True)
    assert res.status_code == 429 and res.headers["Retry-After"]
    assert "まだ送信されていません" in page and "入力内容はそのまま残っています" in page
    assert "二通目の内容です。</textarea>" in page and 'value="山田 太郎"' in page and 'value="taro@example.jp"' in page
    assert '<input type="hidden" name="category" value="返品">' in page
    assert len(db.session.scalars(select(FormSubmission)).all()) == 1


def test_the_limit_window_passes(app, client, contact, clock_pinned):
    """Once the window is over the same IP may post again (the database counters follow the clock)."""
    app.config["FORMS_RATE_LIMIT"] = "1 per minute"
    assert client.post("/forms/contact", json=VALID).status_code == 201
    assert client.post("/forms/contact", json=VALID).status_code == 429
    clock_pinned.advance(seconds=61)
    assert client.post("/forms/contact", json=VALID).status_code == 201


def test_other_requests_never_touch_the_counters(app, client, auth, contact, monkeypatch):
    """Lookups, pages and the form's GET run no limit check: only a valid form POST counts."""
    calls = []
    for name in ("incr", "get", "get_expiry"):
        monkeypatch.setattr(counters.DatabaseStorage, name, lambda self, *a, _n=name, **k: calls.append(_n) or 0)
    auth.login()
    assert client.get("/lookup/members?email=taro@example.jp").status_code == 200
    assert client.get("/forms/contact").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)
    assert client.post("/forms/contact", json={**VALID, "email": "bad"}).status_code == 422
    assert calls == []
    client.post("/forms/contact", json=VALID)
    assert "incr" in calls
    hooks = [app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs]
    assert not any("forms" in getattr(f, "__module__", "") or "limit" in repr(f) for h in hooks for f in h.get(None, []))


def test_memory_storage_still_configurable(database_url):
    """memory:// (one process) still works, redis:// is accepted; a broken limit or storage URI stops create_app."""
    app = create_app({**base_config(database_url), "RATELIMIT_STORAGE_URI": "memory://", "FORMS_RATE_LIMIT": "1/minute"})
    with app.app_context():
        from plugin.forms.throttle import EXTENSION

        throttle = app.extensions[EXTENSION]
        assert throttle.hit("1/minute", "ip", "10.9.9.9") == 0
        assert throttle.hit("1/minute", "ip", "10.9.9.9") > 0
        assert type(throttle.limiter.storage).__name__ == "MemoryStorage"
        throttle.limiter.storage.timer.cancel()
        db.engine.dispose()
    with pytest.raises(ConfigError, match="FORMS_RATE_LIMIT"):
        create_app({**base_config(database_url), "FORMS_RATE_LIMIT": "five a minute"})
    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI"):
        create_app({**base_config(database_url), "RATELIMIT_STORAGE_URI": "redis//typo"})
    redis = create_app({**base_config(database_url), "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379"})
    assert redis.extensions["mallbridge.forms.throttle"].uri == "redis://127.0.0.1:6379"


def test_a_failing_counter_store_never_loses_an_inquiry(client, contact, monkeypatch, caplog):
    """With the counters unreachable the post is accepted and reaches the shop; only the acknowledgement is left out."""
    from sqlalchemy.exc import OperationalError

    def broken(self, *args, **kwargs):
        raise OperationalError("INSERT INTO rate_counter …", {}, Exception("server closed the connection"))

    monkeypatch.setattr(counters.DatabaseStorage, "incr", broken)
    assert client.post("/forms/contact", json=VALID).status_code == 201
    assert _kinds() == ["form_shop"]
    assert "counter storage failed" in caplog.text
