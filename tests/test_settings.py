"""Runtime settings: declarations, typed values, history, and the cache across app instances."""
import threading

import pytest
from sqlalchemy import select

from plugin import create_app, features, settings
from plugin.extensions import db
from plugin.invalid import InvalidInput
from plugin.settings.models import Setting
from tests.conftest import base_config

TEST_SECTION = settings.section(
    "t", "テスト",
    settings.setting("t.days", type="int", default=90, label="保存日数",
                     validate=lambda v: None if 1 <= v <= 3650 else "1〜3650 の範囲で入力してください。"),
    settings.setting("t.flag", type="bool", default=False, label="有効"),
    settings.setting("t.mode", type="choice", default="relay", label="差出人",
                     choices=[("relay", "中継"), ("customer", "顧客")]),
    settings.setting("t.to", type="emails", default=[], label="宛先"),
    settings.setting("t.secret", type="str", default=None, label="秘密", secret=True),
)


@pytest.fixture(autouse=True)
def _declared(monkeypatch):
    """Test-only declarations: every app built in these tests registers them beside the real ones."""
    monkeypatch.setattr(features, "SETTINGS", [*features.SETTINGS, TEST_SECTION])


def test_unset_setting_reads_its_default(app):
    """A declared key without a stored value returns its default."""
    assert settings.get("t.days") == 90
    assert settings.get("t.mode") == "relay"


def test_values_are_parsed_by_type(app):
    """Input text is parsed by the declared type (full-width digits, lists of addresses, booleans)."""
    settings.set_many({"t.days": "１２０", "t.flag": "on", "t.to": "A@Example.jp; b@example.jp"}, actor="t")
    assert settings.get("t.days") == 120
    assert settings.get("t.flag") is True
    assert settings.get("t.to") == ["a@example.jp", "b@example.jp"]


@pytest.mark.parametrize("key,raw,message", [
    ("t.days", "abc", "半角数字"),
    ("t.days", "0", "1〜3650"),
    ("t.mode", "other", "選択肢"),
    ("t.to", "a@example.jp, nope", "「nope」"),
    ("t.flag", "maybe", "はい"),
    ("t.mode", "relay\x00", "制御文字"),
])
def test_bad_values_are_rejected_with_japanese_message(app, key, raw, message):
    """Bad input raises InvalidInput with a Japanese message for that key, and nothing is stored."""
    with pytest.raises(InvalidInput) as info:
        settings.set_many({key: raw, "t.secret": "kept-out"}, actor="t")
    assert message in info.value.errors[key]
    assert db.session.scalar(select(Setting).where(Setting.key == "t.secret")) is None


def test_blank_restores_default(app):
    """Saving a blank value removes the stored one, so the default applies again."""
    settings.set_value("t.days", 30, actor="t")
    settings.set_value("t.days", "", actor="t")
    assert settings.get("t.days") == 90


def test_history_records_who_when_old_and_new(app, clock_pinned):
    """Every change is in the history with actor, time and old → new; unchanged saves add nothing."""
    settings.set_value("t.days", 30, actor="hanako@example.jp")
    settings.set_value("t.days", 30, actor="hanako@example.jp")
    settings.set_value("t.days", 45, actor="taro@example.jp")
    rows = settings.history("t.days")
    assert [(r.actor, r.old_value, r.new_value) for r in rows] == [
        ("taro@example.jp", "30", "45"), ("hanako@example.jp", "90（既定値）", "30")]
    assert rows[0].at == clock_pinned.now()


def test_history_masks_secrets(app):
    """Secret values never appear in the history, only that they were set or changed."""
    settings.set_value("t.secret", "first-secret", actor="t")
    settings.set_value("t.secret", "second-secret", actor="t")
    texts = [(r.old_value, r.new_value) for r in settings.history("t.secret")]
    assert not any("secret" in (o + n) for o, n in texts)
    assert texts[0] == ("●●●●（設定済み）", "●●●●（新しい値）")
    assert settings.get("t.secret") == "second-secret"


def test_cache_is_invalidated_across_app_instances(app, database_url, clock_pinned):
    """Two app instances on one DB (two gunicorn workers): a write in one is seen by the other within a second."""
    other = create_app(base_config(database_url))
    with other.app_context():
        assert settings.get("t.days") == 90  # loads other's cache
    settings.set_value("t.days", 7, actor="t")  # written through the first instance
    assert settings.get("t.days") == 7  # the writer sees it at once
    with other.app_context():
        # Within the check interval the other worker may still serve its cached value …
        assert settings.get("t.days") in (90, 7)
        clock_pinned.advance(seconds=1)
        # … but once the interval has passed it notices the version bump and reloads.
        assert settings.get("t.days") == 7
        db.session.remove()
        db.engine.dispose()


def test_admin_pages_of_another_worker_see_a_save_at_once(app, database_url, clock_pinned):
    """After a save the redirect may land on another worker: its admin pages never show the old value."""
    other = create_app(base_config(database_url))
    with other.test_request_context("/admin/helpdesk"):
        assert settings.get("t.days") == 90  # loads other's cache within this second
    settings.set_value("t.days", 7, actor="t")
    with other.test_request_context("/admin/helpdesk"):
        assert settings.get("t.days") == 7  # no waiting for the check interval under /admin
        db.session.remove()
        db.engine.dispose()


def test_two_admins_saving_at_once_both_land_in_history(app, database_url):
    """Two workers saving at the same moment (threads, own apps): both values stored, both in the history."""
    apps = [create_app(base_config(database_url)) for _ in range(2)]
    barrier, failures = threading.Barrier(2), []

    def save(worker, key, value, actor):
        with worker.app_context():
            try:
                barrier.wait(timeout=10)
                settings.set_value(key, value, actor=actor)
            except Exception as exc:  # noqa: BLE001  (reported below; a thread cannot fail the test itself)
                failures.append(exc)
            finally:
                db.session.remove()
                db.engine.dispose()

    threads = [threading.Thread(target=save, args=(apps[0], "t.days", 10, "a@example.jp")),
               threading.Thread(target=save, args=(apps[1], "t.days", 20, "b@example.jp"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not failures
    settings.invalidate()
    rows = settings.history("t.days")
    assert {r.actor for r in rows} == {"a@example.jp", "b@example.jp"}
    # The writers took turns: the second one's "old" is the first one's "new".
    first, second = rows[1], rows[0]
    assert first.old_value == "90（既定値）" and second.old_value == first.new_value
    assert settings.get("t.days") == int(second.new_value)


def test_declared_lists_sections_in_order(app):
    """declared(section) returns that section's declarations in declaration order, for form generation."""
    assert [d.key for d in settings.declared("t")] == ["t.days", "t.flag", "t.mode", "t.to", "t.secret"]
    assert "t" in settings.sections()


def test_undeclared_key_is_an_error(app):
    """Reading an undeclared key raises KeyError naming it."""
    with pytest.raises(KeyError, match="nope.key"):
        settings.get("nope.key")
