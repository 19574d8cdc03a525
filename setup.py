"""Build step: a wheel carries copies of the API spec and the Alembic migrations in
`statuschecker/bundled/`, laid out as in the source tree, where statuschecker.resources finds
them."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("openapispec.yaml", "db/migrations")


class BuildPy(build_py):
    """build_py, then the copies (not for an editable install: it reads the source tree)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib, "statuschecker", "bundled")
        # A migration deleted from the source must not linger from an earlier build.
        shutil.rmtree(target, ignore_errors=True)
        for name in BUNDLED:
            if Path(name).is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(name, target / name, ignore=ignore)
            else:
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(name, target / name)


setup(cmdclass={"build_py": BuildPy})
