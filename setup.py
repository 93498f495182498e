"""Build hook only (the project is declared in pyproject.toml): the wheel carries the Alembic
migrations, which live at the repository's top level, inside the plugin package as
plugin/migrations, so an installed mallbridge can run `mallbridge db upgrade` anywhere."""
import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

MIGRATIONS = pathlib.Path(__file__).resolve().parent / "migrations"


class BuildWithMigrations(build_py):
    """build_py that also copies migrations/ into the built plugin package."""

    def run(self):
        super().run()
        if self.editable_mode:
            return  # an editable install reads migrations/ from the checkout itself
        target = pathlib.Path(self.build_lib) / "plugin" / "migrations"
        shutil.copytree(MIGRATIONS, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithMigrations})
