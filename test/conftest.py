"""Shared fixtures: a real PostgreSQL (embedded, or the one STATUSCHECKER_DATABASE_URL names),
a fresh database migrated by Alembic for the session, and apps wired against it."""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import trustme
import uvicorn
from accounts import Account, password_hash
from connexion.spec import OpenAPISpecification
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from waiting import wait_until

from statuschecker.accounts import credentials
from statuschecker.runtime import Runtime
from statuschecker.store import accounts as account_store
from statuschecker.store.engine import create_db_engine, migrate, sqlalchemy_url
from statuschecker.system.config import Settings
from statuschecker.system.embedded_db import EmbeddedPostgres
from web.app import contract, create_app

pytest_plugins = ["browsing"]


@contextlib.contextmanager
def postgres_dir() -> Iterator[Path]:
    """A temporary directory for an embedded server's data, outside pytest's temporary tree:
    pytest makes that tree private to root whenever a session starts, which would lock out the
    server's own OS user if another pytest session starts meanwhile."""
    path = Path(tempfile.mkdtemp(prefix="statuschecker-test-pg-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def contract_validated_once() -> Iterator[None]:
    """Connexion checks the contract against OpenAPI's own schema for every app it builds (a
    fifth of a second); the tests build an app of the one contract in most tests, so it is
    checked here, once per session, and not again for each app."""
    OpenAPISpecification._validate_spec(copy.deepcopy(contract()))
    with mock.patch.object(OpenAPISpecification, "_validate_spec", lambda *_: None):
        yield


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    """A temporary directory for a test's own embedded server."""
    with postgres_dir() as path:
        yield path


@pytest.fixture
def unresolvable(monkeypatch: pytest.MonkeyPatch) -> str:
    """A host name whose lookup fails as an NXDOMAIN answer would, without any query leaving
    the machine (the configured resolver is not on loopback)."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return "statuschecker-test.invalid"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a PostgreSQL server: the one named in the environment, else an embedded one."""
    given = os.environ.get("STATUSCHECKER_DATABASE_URL")
    if given:
        yield sqlalchemy_url(given)
        return
    with postgres_dir() as data_dir:
        server = EmbeddedPostgres(data_dir)
        try:
            url = server.start()
            _without_durability(url)
            yield url
        finally:
            server.stop()


def _without_durability(url: str) -> None:
    """The tests' own server does not wait for the disk: what it writes is lost only if the
    machine stops (it outlives a killed server), and each of the suite's thousands of commits
    returns without an fsync."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(text(f"ALTER SYSTEM SET {name} = off"))
        conn.execute(text("SELECT pg_reload_conf()"))
    admin.dispose()


@pytest.fixture(scope="session")
def make_database(server_url: str) -> Iterator[Callable[[], str]]:
    """Creates empty, uniquely named databases on the server; drops them at the end."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make() -> str:
        name = f"statuschecker_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(server_url).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(make_database: Callable[[], str]) -> str:
    """The session's database, with the schema built by running the Alembic migrations."""
    url = make_database()
    migrate(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the session's database."""
    engine = create_db_engine(database_url, pool_size=4)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The session's database, emptied before the test."""
    with engine.begin() as conn:
        tables = "users, services, tick_pruning, pollers"
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return engine


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for tests: fast poller turns, no .env file, data under the test's tmp dir."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=tmp_path,
        poller_idle_seconds=0.05,
        recorder_flush_seconds=0.05,
        lease_grace_seconds=2.0,
        poller_shutdown_seconds=2.0,
    )


@pytest.fixture
def make_runtime(db: Engine, settings: Settings) -> Iterator[Callable[..., Runtime]]:
    """Builds runtimes on the emptied database, each with its own metrics registry."""
    built: list[Runtime] = []

    def make(with_poller: bool = False, listen: bool = False, **overrides: object) -> Runtime:
        effective = settings.model_copy(update=overrides)
        assert effective.database_url is not None
        runtime = Runtime.build(
            effective,
            effective.database_url,
            CollectorRegistry(),
            with_poller=with_poller,
            listen=listen,
        )
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()


@pytest.fixture
def make_account(db: Engine, settings: Settings) -> Callable[..., Account]:
    """Makes accounts (password PASSWORD) straight in the database, with access tokens signed
    by the key every runtime of the test uses."""

    def make(email: str, *, admin: bool = False) -> Account:
        with db.begin() as conn:
            user = account_store.create_user(conn, email, password_hash(), is_admin=admin)
        key = credentials.signing_key(settings)
        return Account(user, credentials.issue_access_token(user.id, key, 3600))

    return make


@pytest.fixture
def account(make_account: Callable[..., Account]) -> Account:
    """The account the `client` fixture acts as (not an admin)."""
    return make_account("owner@example.com")


@pytest.fixture
def make_client(make_runtime: Callable[..., Runtime]) -> Iterator[Callable[..., Any]]:
    """Makes test clients of one API app (no poller, response validation on), each acting as
    the account given, or anonymously."""
    app = create_app(make_runtime(), validate_responses=True)
    with contextlib.ExitStack() as clients:

        def make(account: Account | None = None) -> Any:
            headers = account.headers if account else {}
            return clients.enter_context(app.test_client(headers=headers))

        yield make


@pytest.fixture
def client(make_client: Callable[..., Any], account: Account) -> Any:
    """A test client of the API acting as `account`."""
    return make_client(account)


@contextlib.contextmanager
def _served(app: Any) -> Iterator[str]:
    """`app` served by uvicorn on a free port in a thread, until the block ends; its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive())
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Serves apps over HTTP on 127.0.0.1 for the test (stopped at its end); each call gives
    the app's URL."""
    with contextlib.ExitStack() as servers:
        yield lambda app: servers.enter_context(_served(app))


@pytest.fixture
def live_server(make_runtime: Callable[..., Runtime], serve: Callable[[Any], str]) -> str:
    """The app with a polling runtime, served by uvicorn on a free port in a thread; its URL."""
    return serve(create_app(make_runtime(with_poller=True), validate_responses=True))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A CA of the tests' own (one per module), trusted only through `ca_bundle`."""
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_bundle(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The CA's certificate as a PEM file, for `CheckLimits(ca_bundle=...)`."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)
