"""The wheel built from the repository installs and migrates outside the checkout."""
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, inspect, text

from tests.conftest import PG_URL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, **kw):
    result = subprocess.run(args, check=False, capture_output=True, text=True, timeout=300, **kw)
    assert result.returncode == 0, f"{args[:3]} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.skipif(bool(PG_URL), reason="packaging is checked once, in the SQLite run")
def test_wheel_carries_migrations_and_sets_up_an_empty_database(tmp_path):
    """pip install of the wheel into a fresh venv, then `db upgrade` and `users create`, work anywhere."""
    # Build from a copy: setuptools writes build/ and *.egg-info/ next to the sources it builds.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "instance", "artifacts", "*.egg-info", "__pycache__", ".*_cache"))
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(dist),
          str(source)])
    wheel = next(dist.glob("mallbridge-*.whl"))
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    py = str(venv / "bin" / "python")
    # The dependencies come from this test's own environment (no network), the product from the wheel.
    site = _run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    with open(os.path.join(site, "deps.pth"), "w") as fh:
        fh.write(sysconfig.get_paths()["purelib"] + "\n")
    _run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)])
    work = tmp_path / "elsewhere"
    work.mkdir()
    db_path = work / "shop.db"
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "MALLBRIDGE_DATABASE_URL": f"sqlite:///{db_path}",
           "MALLBRIDGE_SECRET_KEY": "k" * 48, "MALLBRIDGE_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    mallbridge = str(venv / "bin" / "mallbridge")
    where = _run([py, "-c", "import plugin; print(plugin.__file__)"], cwd=work, env=env).stdout
    assert where.startswith(str(venv)), f"plugin imported from {where}, not from the installed wheel"
    _run([mallbridge, "db", "upgrade"], cwd=work, env=env)
    _run([mallbridge, "users", "create", "--email", "boss@shop.example.jp", "--role", "admin", "--password-stdin"],
         cwd=work, env=env, input="a-long-password\n")
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        assert {"shop", "member", "shop_order", "outbox_message", "alembic_version"} <= set(inspect(conn).get_table_names())
        assert conn.scalar(text("SELECT role FROM user_account WHERE email = 'boss@shop.example.jp'")) == "admin"
    engine.dispose()
