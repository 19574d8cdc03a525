"""A regular install (`pip install .`, a wheel) carries what statuschecker reads at run time: the
API spec, the Alembic migrations and the web pages. A wheel is built from what deploy/Dockerfile
copies, installed into a folder of its own and run from there, away from the source tree."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parents[1]
BUILD_INPUTS = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "openapispec.yaml",
    "db/migrations",
    "statuschecker",
    "web",
)
"""What a wheel is built from; deploy/Dockerfile copies the same into its build stage."""

PROBE = """
import json, statuschecker, web
from statuschecker.system import logs
from alembic.script import ScriptDirectory
from sqlalchemy import text
from statuschecker.system.config import Settings
from statuschecker.resources import MIGRATIONS_DIR, SPEC
from statuschecker.runtime import Runtime
from web.app import create_app
from web.pages import STATIC

settings = Settings()
logs.configure(settings)  # to standard error, as the command line does; the answer is stdout
runtime = Runtime.build(settings, settings.database_url, with_poller=False)
with runtime.engine.connect() as conn:
    version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
with create_app(runtime).test_client() as client:
    paths = ["/", "/dashboard", "/static/style.css", "/static/vendor/uPlot.esm.js",
             "/v1/openapi.json", "/config.schema.json"]
    answers = {path: client.get(path).status_code for path in paths}
print(json.dumps({
    "files": [statuschecker.__file__, web.__file__, str(SPEC), str(MIGRATIONS_DIR), str(STATIC)],
    "head": ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head(),
    "version": version,
    "answers": answers,
}))
"""
"""Run by the installed copy: the files it resolves, its migration head, the database's version
and what its app answers."""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of BUILD_INPUTS (so no build/ or stale output in the repo)."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    # With build isolation: a dev venv's own setuptools may be older than [build-system] asks.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", base / "dist", source],
        check=True,
    )
    (built,) = (base / "dist").glob("statuschecker-*.whl")
    return built


@pytest.fixture(scope="module")
def site(wheel: Path) -> Path:
    """The wheel installed into a folder of its own (its dependencies are the dev venv's)."""
    target = wheel.parents[1] / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", target, wheel],
        check=True,
    )
    return target


def test_wheel_holds_the_spec_the_migrations_and_the_pages(wheel: Path) -> None:
    migrations = ROOT / "db" / "migrations"
    expected = {
        "statuschecker/bundled/openapispec.yaml",
        *(
            f"statuschecker/bundled/{path.relative_to(ROOT).as_posix()}"
            for path in [migrations / "env.py", *migrations.glob("versions/*.py")]
        ),
        *(
            f"web/{path.relative_to(ROOT / 'web').as_posix()}"
            for folder in ("static", "vendor")
            for path in (ROOT / "web" / folder).rglob("*")
            if path.is_file()
        ),
        "web/config.schema.json",
    }
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        spec = archive.read("statuschecker/bundled/openapispec.yaml")
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = configparser.ConfigParser()
        scripts.read_string(archive.read(entry_points).decode())
    assert expected - names == set()
    assert [name for name in names if "__pycache__" in name] == []
    assert spec == (ROOT / "openapispec.yaml").read_bytes()
    assert scripts["console_scripts"]["statuschecker"] == "statuschecker.cli:main"


def test_the_installed_copy_migrates_and_serves_from_its_own_files(
    site: Path, make_database: Callable[[], str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATUSCHECKER_")}
    env.update(
        PYTHONPATH=str(site),
        STATUSCHECKER_DATABASE_URL=make_database(),
        STATUSCHECKER_DATA_DIR=str(tmp_path / "var"),
    )
    # The console script pip made from the wheel's entry point, run outside the repo.
    subprocess.run([site / "bin" / "statuschecker", "migrate"], cwd=tmp_path, env=env, check=True)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, check=True, stdout=subprocess.PIPE
    )

    found = json.loads(probe.stdout)
    # The dev venv's editable install points at the repo: every file must be the installed one.
    outside = [file for file in found["files"] if not Path(file).is_relative_to(site)]
    assert outside == []
    source_head = ScriptDirectory(str(ROOT / "db" / "migrations")).get_current_head()
    assert found["head"] == found["version"] == source_head
    assert set(found["answers"].values()) == {200}, found["answers"]
