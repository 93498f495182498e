"""Secrets at rest: Fernet encryption, several keys, rotation, nothing readable in the DB file."""
import os

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from plugin import crypto, helpdesk, settings
from plugin.extensions import db
from plugin.settings.models import Setting

TOKEN = "relation-api-token-SECRET-12345"


def test_encrypt_decrypt_round_trip(app):
    """encrypt() returns an opaque token that decrypt() turns back into the text."""
    token = crypto.encrypt("秘密の値")
    assert "秘密" not in token and token != "秘密の値"
    assert crypto.decrypt(token) == "秘密の値"


def test_api_token_is_not_visible_in_the_database_file(app, database_url):
    """A helpdesk API token is stored encrypted: its bytes are nowhere in the SQLite file."""
    helpdesk.update_environment("production", {"api_token": TOKEN}, actor="t")
    stored = db.session.scalar(select(Setting.value).where(Setting.key == "helpdesk.production.api_token"))
    assert TOKEN not in stored
    assert helpdesk.environment("production").api_token() == TOKEN
    if database_url.startswith("sqlite:///"):
        db.session.remove()
        db.engine.dispose()  # flush the WAL into the main file too
        path = database_url[len("sqlite:///"):]
        for name in (path, path + "-wal"):
            if os.path.exists(name):
                with open(name, "rb") as fh:
                    assert TOKEN.encode() not in fh.read()


def test_rotation_keeps_old_values_readable(app):
    """With a new key put first, old tokens still decrypt; `rotate_all` moves them to the new key."""
    old_key = app.config["ENCRYPTION_KEY"]
    helpdesk.update_environment("demo", {"api_token": TOKEN}, actor="t")
    new_key = Fernet.generate_key().decode()
    app.config["ENCRYPTION_KEY"] = f"{new_key},{old_key}"
    settings.invalidate()
    assert helpdesk.environment("demo").api_token() == TOKEN
    assert crypto.rotate_all() >= 1
    app.config["ENCRYPTION_KEY"] = new_key  # the old key is gone now
    settings.invalidate()
    assert helpdesk.environment("demo").api_token() == TOKEN


def test_rotate_command_reports_count(app, runner):
    """`mallbridge secrets rotate` re-encrypts the stored secrets and says how many."""
    helpdesk.update_environment("demo", {"api_token": TOKEN}, actor="t")
    result = runner.invoke(args=["secrets", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 secret" in result.output


def test_wrong_key_gives_clear_error(app, runner):
    """A key that cannot decrypt the stored secrets gives a clear error, and rotation changes nothing."""
    helpdesk.update_environment("demo", {"api_token": TOKEN}, actor="t")
    before = db.session.scalar(select(Setting.value).where(Setting.key == "helpdesk.demo.api_token"))
    app.config["ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    settings.invalidate()
    with pytest.raises(crypto.CryptoError):
        helpdesk.environment("demo").api_token()
    result = runner.invoke(args=["secrets", "rotate"])
    assert result.exit_code == 1 and "nothing was changed" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(Setting.value).where(Setting.key == "helpdesk.demo.api_token")) == before


def test_malformed_key_is_reported(app):
    """A malformed MALLBRIDGE_ENCRYPTION_KEY raises CryptoError naming the variable."""
    app.config["ENCRYPTION_KEY"] = "not-a-fernet-key"
    with pytest.raises(crypto.CryptoError, match="MALLBRIDGE_ENCRYPTION_KEY"):
        crypto.encrypt("x")
