"""Outside the demo, a MALLBRIDGE_SECRET_KEY shorter than 32 characters stops startup with a clear message."""
import pytest

from plugin import create_app
from plugin.config import ConfigError
from tests.conftest import TEST_KEY


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    """A production-like environment: no demo, a valid encryption key, a throwaway database."""
    monkeypatch.delenv("MALLBRIDGE_DEMO", raising=False)
    monkeypatch.setenv("MALLBRIDGE_ENCRYPTION_KEY", TEST_KEY)
    return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}


def test_short_secret_key_is_refused(monkeypatch, production_env):
    """A 31-character key is refused; the message names the variable and the rule, never the key."""
    key = "short-key-typed-by-hand-1234567"
    monkeypatch.setenv("MALLBRIDGE_SECRET_KEY", key)
    with pytest.raises(ConfigError, match="MALLBRIDGE_SECRET_KEY is too short") as exc:
        create_app(production_env)
    assert "at least 32" in str(exc.value) and key not in str(exc.value)


def test_a_32_character_key_starts(monkeypatch, production_env):
    """32 characters are enough."""
    monkeypatch.setenv("MALLBRIDGE_SECRET_KEY", "k" * 32)
    assert create_app(production_env).config["SECRET_KEY"] == "k" * 32


def test_demo_accepts_any_key(monkeypatch, tmp_path):
    """The demo (MALLBRIDGE_DEMO=1, the Procfile's set-up) starts with a short key or a derived one."""
    monkeypatch.setenv("MALLBRIDGE_DEMO", "1")
    monkeypatch.setenv("MALLBRIDGE_SECRET_KEY", "demo")
    assert create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}).config["SECRET_KEY"] == "demo"
    monkeypatch.delenv("MALLBRIDGE_SECRET_KEY")
    assert len(create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}).config["SECRET_KEY"]) >= 32
