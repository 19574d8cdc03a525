"""Healthchecks v4.3 (the Django cron-monitoring service) as the ping benchmark's peer
(`pings.py --peer healthchecks`): installed once, run under uWSGI as its Docker image runs it,
on a fresh database of the benchmark's PostgreSQL server.

The installation, in `~/.cache/statuschecker-bench/healthchecks-v4.3/` and reused after, is the
tag exported from a git directory (`--healthchecks-git`) and a venv with its `requirements.txt`
plus the wheels the Dockerfile adds for serving: uWSGI (unpinned there; pinned here to the
newest, 2.0.31) and psycopg's C implementation; then `collectstatic` and `compress`, as the
Dockerfile runs them. Healthchecks v4.3 needs Python >= 3.12 (Django 6.0; the image has 3.14):
`--healthchecks-python`, else the newest python3.14/3.13/3.12 on PATH or in ~/.pyenv/versions.
Building needs a C compiler and that Python's headers (uWSGI), libpq-dev (psycopg[c]) and, where
pip finds no pycurl wheel, libcurl4-openssl-dev and libssl-dev:
`apt-get install -y build-essential python3.X-dev libpq-dev libcurl4-openssl-dev libssl-dev`.

It runs the image's own `docker/uwsgi.ini` (master, 4 processes of 1 thread, harakiri 10 s,
`manage.py migrate` before the app, `sendalerts` and `sendreports` attached, request log on)
with two lines changed: `http-socket` on 127.0.0.1:<port> instead of :8000, `chdir` to the
export instead of /opt/healthchecks. It is configured by environment as `docker/.env.example`
shows (DB=postgres, DB_HOST/PORT/NAME/USER/PASSWORD, DB_CONN_MAX_AGE, DEBUG=False) plus the
image's USE_GZIP_MIDDLEWARE=True.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import servers
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

TAG = "v4.3"
DEFAULT_GIT = Path("/work/.mirror/healthchecks+healthchecks/repo")
CACHE = Path.home() / ".cache" / "statuschecker-bench" / f"healthchecks-{TAG}"
UWSGI = "2.0.31"  # the Dockerfile installs uwsgi unpinned: the newest when its image is built
EXTRA_WHEELS = [f"uwsgi=={UWSGI}", "psycopg[c]"]  # the Dockerfile's, for serving on PostgreSQL
PYTHONS = ("python3.14", "python3.13", "python3.12")
BUILD_NEEDS = (
    "building needs a C compiler, the Python's headers, libpq-dev and (without a pycurl wheel) "
    "libcurl's: apt-get install -y build-essential python3.X-dev libpq-dev "
    "libcurl4-openssl-dev libssl-dev"
)
CREATE_CHECKS = """\
import json, sys
from datetime import timedelta
import django
django.setup()
from django.contrib.auth.models import User
from hc.accounts.models import Profile, Project
from hc.api.models import Check
count, timeout, grace = (int(v) for v in sys.argv[1:4])
user = User.objects.create_user("bench", "bench@example.com")
Profile.objects.for_user(user)
project = Project.objects.create(owner=user, name="bench", badge_key=user.username)
Check.objects.bulk_create(
    Check(project=project, name=f"hb-{i + 1:06d}", timeout=timedelta(seconds=timeout),
          grace=timedelta(seconds=grace))
    for i in range(count)
)
codes = project.check_set.order_by("id").values_list("code", flat=True)
print(json.dumps([str(code) for code in codes]))
"""


@dataclass(frozen=True)
class Install:
    """An installed Healthchecks: its source tree and its venv."""

    src: Path
    venv: Path
    python_version: str

    def bin(self, name: str) -> str:
        """An executable of the venv."""
        return str(self.venv / "bin" / name)


def find_python(given: str | None = None) -> str | None:
    """`given`, else the newest python3.14/3.13/3.12 on PATH or in ~/.pyenv/versions, if it
    runs and is at least 3.12."""
    found = [given] if given else [p for p in map(shutil.which, PYTHONS) if p]
    if not given:
        pyenv = Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3")
        found += sorted(map(str, pyenv), reverse=True)
    for exe in found:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            check = [exe, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"]
            if subprocess.run(check, capture_output=True, timeout=30).returncode == 0:
                return exe
    return None


def _run(argv: list[str], hint: str = "", timeout: float = 600, **popen: Any) -> bytes:
    """Run `argv` to its end; its stdout, or a RuntimeError with the tail of its output."""
    done = subprocess.run(argv, capture_output=True, timeout=timeout, **popen)
    if done.returncode != 0:
        said = (done.stdout + done.stderr).decode(errors="replace").strip()[-2000:]
        raise RuntimeError(
            f"{' '.join(argv[:3])} ... exited with {done.returncode}: {said}"
            + (f"\n({hint})" if hint else "")
        )
    return done.stdout


def install(git_dir: Path, python: str, say: Callable[[str], None]) -> Install:
    """The installation in CACHE, built on first use or when made by another Python."""
    version = _run([python, "-c", "import sys; print(sys.version.split()[0])"]).decode().strip()
    done = CACHE / "installed"
    stamp = f"{TAG} with Python {version} ({python}) + {' '.join(EXTRA_WHEELS)}\n"
    found = Install(CACHE / "src", CACHE / "venv", version)
    if done.exists() and done.read_text() == stamp:
        say(f"healthchecks: {TAG} installed in {CACHE}")
        return found
    say(f"healthchecks: installing {TAG} in {CACHE} with Python {version} (once; minutes)")
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True)
    archive = _run(["git", f"--git-dir={git_dir}", "archive", TAG], timeout=300)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(found.src, filter="data")
    _run([python, "-m", "venv", str(found.venv)])
    requirements = str(found.src / "requirements.txt")
    say("healthchecks: pip install -r requirements.txt " + " ".join(EXTRA_WHEELS))
    _run([found.bin("pip"), "install", "--quiet", "-r", requirements, *EXTRA_WHEELS],
         hint=BUILD_NEEDS, timeout=1800)  # fmt: skip
    build = {**os.environ, "DEBUG": "False", "SECRET_KEY": "build-key"}  # as the Dockerfile
    for step in (["collectstatic", "--noinput", "-v0"], ["compress"]):
        _run([found.bin("python"), "manage.py", *step], cwd=found.src, env=build)
    done.write_text(stamp)
    return found


def _as_admin(server_url: str, statement: str) -> None:
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def empty_database(stack: contextlib.ExitStack, server_url: str) -> str:
    """A new empty database on the server (dropped when `stack` closes): its URL."""
    name = f"healthchecks_bench_{uuid.uuid4().hex[:12]}"
    _as_admin(server_url, f'CREATE DATABASE "{name}"')
    stack.callback(_as_admin, server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def environment(found: Install, database_url: str, port: int, conn_max_age: int) -> dict:
    """Our environment plus Healthchecks' settings for the database and 127.0.0.1:`port`."""
    url = make_url(database_url)

    def query(key: str) -> str:  # pgserver's URLs give the socket directory as ?host=
        value = url.query.get(key, "")
        return value if isinstance(value, str) else value[0]

    return {
        **os.environ,
        "PATH": f"{found.venv / 'bin'}:{os.environ.get('PATH', '')}",  # for ./manage.py's python
        "DJANGO_SETTINGS_MODULE": "hc.settings",
        "PYTHONUNBUFFERED": "1",
        "USE_GZIP_MIDDLEWARE": "True",
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(),
        "SITE_ROOT": f"http://127.0.0.1:{port}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DB": "postgres",
        "DB_HOST": url.host or query("host"),
        "DB_PORT": str(url.port or query("port")),
        "DB_NAME": url.database or "",
        "DB_USER": url.username or "",
        "DB_PASSWORD": url.password or "",
        "DB_CONN_MAX_AGE": str(conn_max_age),
    }


def migrate(found: Install, env: dict) -> None:
    """`manage.py migrate` on the empty database."""
    _run([found.bin("python"), "manage.py", "migrate", "-v0"], cwd=found.src, env=env)


def create_checks(found: Install, env: dict, count: int, timeout: int, grace: int) -> list[str]:
    """A user, a project and `count` checks made with Django's ORM: their ping codes, in order."""
    argv = [found.bin("python"), "-c", CREATE_CHECKS, str(count), str(timeout), str(grace)]
    codes: list[str] = json.loads(_run(argv, cwd=found.src, env=env, timeout=300))
    return codes


def local_ini(shipped: str, src: Path, port: int) -> str:
    """The image's uwsgi.ini with its sockets on 127.0.0.1:`port` and `chdir` to `src`."""
    ours = {"http-socket": f"127.0.0.1:{port}", "chdir": str(src)}
    lines, changed = [], set()
    for line in shipped.splitlines():
        key = line.split("=", 1)[0].strip()
        if key in ours:
            changed.add(key)
            line = f"{key} = {ours[key]}"
        lines.append(line)
    if missing := ours.keys() - changed:
        raise RuntimeError(f"docker/uwsgi.ini has no {' or '.join(sorted(missing))}")
    return "\n".join(lines) + "\n"


def start(
    stack: contextlib.ExitStack, found: Install, env: dict, port: int, workdir: Path
) -> servers.Started:
    """uWSGI with the image's ini (adapted), its log in `workdir`; ready once
    `/api/v3/status/` (the image's health check: a database query) answers 200."""
    ini = workdir / "uwsgi.ini"
    ini.write_text(local_ini((found.src / "docker" / "uwsgi.ini").read_text(), found.src, port))
    log = (workdir / "uwsgi.log").open("w")
    stack.callback(log.close)
    proc = servers.spawn(stack, [found.bin("uwsgi"), str(ini)], env=env, cwd=found.src,
                         stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    status = f"http://127.0.0.1:{port}/api/v3/status/"
    servers.wait_until(lambda: answer(status)[0] == 200, proc, "Healthchecks' uWSGI", 120)
    name = f"Healthchecks {TAG} (Python {found.python_version}) under uWSGI {UWSGI}"
    return servers.Started(proc, name, port)


def answer(url: str) -> tuple[int | None, str]:
    """The status and body of a GET of `url` (None when nothing answered)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read(200).decode(errors="replace")
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read(200).decode(errors="replace")
    except OSError:
        return None, ""


def pings_so_far(engine: Engine) -> int:
    """Pings Healthchecks has stored: the sum of `api_check.n_pings`, raised in each ping's
    transaction (rows of `api_ping` are pruned to each check's last 100, so they do not add
    up)."""
    with engine.connect() as conn:
        found = conn.execute(text("SELECT coalesce(sum(n_pings), 0) FROM api_check"))
        return int(found.scalar_one())


def role_of(pid: int) -> str:
    """A process of uWSGI's tree by its command line: `uWSGI worker 1` (auto-procname),
    `sendalerts` (an attached daemon; `sendalerts sh` its shell)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "gone"
    line = " ".join(argv).strip()
    for daemon in ("sendalerts", "sendreports"):
        if daemon in line:
            return daemon + (" sh" if Path(argv[0]).name == "sh" else "")
    return line if line.startswith("uWSGI") else Path(argv[0]).name
