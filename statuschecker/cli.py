"""`statuschecker run|api|poller|migrate|db|user|dashboard|wrap|apply|export` entry points.

What a command needs is imported when it runs, so that the light ones (`wrap` in a cron
line, `dashboard`) start without loading the server, its settings or the database layer."""

from __future__ import annotations

import argparse
import getpass
import math
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import structlog

from statuschecker.config import commands as config_commands
from statuschecker.wrap import add_arguments as add_wrap_arguments
from statuschecker.wrap import cmd_wrap

if TYPE_CHECKING:
    from statuschecker.system.config import Settings

log = structlog.get_logger(__name__)


class _Stop(Exception):
    """Raised by our SIGTERM handler so clean-up (`finally`) runs, as for Ctrl-C."""


def _raise_stop(signum: int, _: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured database URL, or an embedded server started here and stopped on exit."""
    from statuschecker.system.embedded_db import EmbeddedPostgres

    if settings.database_url:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.embedded_data_dir)
    try:
        yield server.start()
    finally:
        server.stop()


@contextmanager
def migrated_database(settings: Settings) -> Iterator[str]:
    """`database`, migrated to the newest schema by a short-lived `statuschecker migrate`: a
    long-running process then never holds alembic, the migration scripts and what running them
    builds (some 35 MB, a third of a poller parent's memory)."""
    with database(settings) as url:
        migration = subprocess.run(
            [sys.executable, "-m", "statuschecker.cli", "migrate"],
            env={**os.environ, "STATUSCHECKER_DATABASE_URL": url},
            check=False,
        )
        if migration.returncode != 0:
            raise MigrationFailed(migration.returncode)
        yield url


class MigrationFailed(Exception):
    """`statuschecker migrate` ended with this exit status (it logged why)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the migrations failed (exit status {status})")


def cmd_run(settings: Settings) -> None:
    """The API and, unless `poller_enabled` is false, the pollers: as worker processes (one per
    core unless `poller_processes` says otherwise) or, with `single_process`, a poller thread
    in the API's process."""
    workers = settings.poller_enabled and not settings.single_process
    serve_api(settings, with_poller=settings.poller_enabled and not workers, workers=workers)


def cmd_api(settings: Settings) -> None:
    """The API alone: no poller, no notifier; pollers run elsewhere (`statuschecker poller`)."""
    serve_api(settings, with_poller=False, workers=False)


GC_THRESHOLDS = (50_000, 20, 100)
"""The collector's thresholds in a serving process. With Python's (700, 10, 10) a burst of
pings triggered collections of the whole heap, tens of milliseconds with every thread stopped:
the ping benchmark's p99 went from 87-96 ms to 45 ms with these, and 41-48 ms with a gen0
threshold of 100,000 (scripts/bench/pings.py, docs/benchmarks.md)."""


def _fewer_collections() -> None:
    """Leave what start-up built (the spec, the app, the tables) out of the cyclic garbage
    collector's passes, and run them less often."""
    import gc

    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve_api(settings: Settings, with_poller: bool, workers: bool) -> None:
    """Migrate, then serve the API (with a poller thread if `with_poller`, beside poller
    worker processes if `workers`) until stopped.

    On SIGTERM or SIGINT, requests in flight get `poller_shutdown_seconds` (at least one
    second) to finish and are then cancelled: a request stuck on the database would otherwise
    hold the stop forever, the poller still claiming and the embedded server still running,
    until a supervisor's SIGKILL lost the poller's pending results. Then the poller stops
    within the same deadline (see `Runtime.close`), and the worker processes, which write
    what they hold, before the embedded database does.
    """
    import uvicorn

    from statuschecker.polling.supervisor import PollerProcesses
    from statuschecker.runtime import Runtime
    from web.app import create_app

    with migrated_database(settings) as url:
        runtime = Runtime.build(settings, url, with_poller=with_poller, listen=True)
        app = create_app(runtime)
        pollers = PollerProcesses(settings, url, poller_count(settings))
        if workers:
            pollers.start_beside(runtime.registry)
        try:
            log.info("api.listening", url=f"http://{settings.host}:{settings.port}/v1/ui/")
            _fewer_collections()
            uvicorn.run(
                app,
                host=settings.host,
                port=settings.port,
                log_config=None,
                lifespan="on",
                timeout_graceful_shutdown=max(math.ceil(settings.poller_shutdown_seconds), 1),
            )
        finally:
            pollers.stop()


def poller_count(settings: Settings, processes: int | None = None) -> int:
    """How many poller worker processes: as asked, else as set, else one per core."""
    return processes or settings.poller_processes or os.cpu_count() or 1


def cmd_poller(
    settings: Settings, processes: int | None, metrics_port: int | None, location: str | None
) -> None:
    """Migrate, then run poller worker processes (one per core unless told otherwise), checking
    from `location` (else the settings'), with their summed work metrics on /metrics, until
    SIGTERM or SIGINT."""
    from statuschecker.polling.supervisor import PollerProcesses

    if location is not None:
        settings = settings.model_copy(update={"location": location})
    port = settings.poller_metrics_port if metrics_port is None else metrics_port
    with migrated_database(settings) as url:
        PollerProcesses(settings, url, poller_count(settings, processes)).run(
            settings.poller_metrics_host, port
        )


def cmd_migrate(settings: Settings) -> None:
    """Apply the migrations (to the embedded server when no URL is set)."""
    from statuschecker.store.engine import migrate

    with database(settings) as url:
        migrate(url)
        log.info("db.migrated")


def cmd_db(settings: Settings, action: str) -> None:
    """Manage the standalone development server in `<data_dir>/postgres-dev`."""
    from statuschecker.system.embedded_db import EmbeddedPostgres, running_url

    server = EmbeddedPostgres(settings.data_dir / "postgres-dev")
    if action == "start":
        url = server.start()
        print(f"STATUSCHECKER_DATABASE_URL='{url}'")
    elif action == "stop":
        server.stop()
        print("stopped")
    else:
        print(running_url(server.data_dir) or "not running")


def cmd_user_add(settings: Settings, email: str, admin: bool) -> None:
    """Create an account whatever the sign-up policy; the password is asked for on a terminal
    and read from the first line of standard input otherwise."""
    from statuschecker.accounts.users import Accounts
    from statuschecker.store.engine import create_db_engine

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {email}: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    with migrated_database(settings) as url:
        engine = create_db_engine(url, pool_size=1)
        try:
            user = Accounts(engine, settings).add_user(email, password, admin=admin)
        finally:
            engine.dispose()
    print(f"account {user.id} {user.email}{' (admin)' if user.is_admin else ''}")


def cmd_dashboard(parser: argparse.ArgumentParser, url: str, token: str | None) -> int:
    """The terminal dashboard until Ctrl-C. A client of the API, it needs neither settings nor
    a database and configures no logging, so no log line is drawn over the live view."""
    from statuschecker.console import ApiClient, run

    if not token:
        parser.error(
            "no token: pass --token or set STATUSCHECKER_TOKEN; get one by logging in with "
            "POST /v1/auth/token {email, password}, e.g. test/scripts/login.sh EMAIL PASSWORD"
        )
    with ApiClient(url, token) as client:
        return run(client)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"needs 1 or more, not {value}")
    return value


def _location(text: str) -> str:
    from statuschecker.system.config import LOCATION_PATTERN

    if not re.fullmatch(LOCATION_PATTERN, text):
        raise argparse.ArgumentTypeError(
            f"not a location name (lower-case letters, digits and dashes, up to 40): {text!r}"
        )
    return text


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port: {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command; exits 0 on a clean stop by signal."""
    parser = argparse.ArgumentParser(prog="statuschecker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="serve the API and run the poller")
    commands.add_parser("api", help="serve the API only (no poller)")
    poller = commands.add_parser(
        "poller", help="run poller processes only (no API), with their metrics on /metrics"
    )
    poller.add_argument(
        "--processes",
        type=_positive,
        default=None,
        metavar="N",
        help="worker processes (default: $STATUSCHECKER_POLLER_PROCESSES, else one per core)",
    )
    poller.add_argument(
        "--metrics-port",
        type=_port,
        default=None,
        metavar="P",
        help="port of the poller's /metrics (default: $STATUSCHECKER_POLLER_METRICS_PORT, 9998)",
    )
    poller.add_argument(
        "--location",
        type=_location,
        default=None,
        metavar="NAME",
        help="where these pollers check from (default: $STATUSCHECKER_LOCATION, else default)",
    )
    commands.add_parser("migrate", help="apply the database migrations")
    db = commands.add_parser("db", help="a standalone development PostgreSQL")
    db.add_argument("action", choices=["start", "stop", "url"])
    user = commands.add_parser("user", help="accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create an account whatever the sign-up policy")
    add.add_argument("email")
    add.add_argument("--admin", action="store_true", help="make it an admin")
    dashboard = commands.add_parser("dashboard", help="your services and alerts, live")
    config_commands.add_server_arguments(dashboard, "an access or API token")
    wrap = commands.add_parser(
        "wrap",
        help="run a job (a cron line) and report its runs to a heartbeat monitor",
        description="Run a command and report its run to a heartbeat monitor's ping URL: "
        "a start ping, then its exit status with the last 10 KB of its output.",
    )
    add_wrap_arguments(wrap)
    apply = commands.add_parser(
        "apply",
        help="make the account's services what configuration files declare",
        description="Send configuration files to the server, show the plan as a diff and "
        "apply it, all or nothing. Exit 0 when applied or nothing to do, 2 with "
        "--detailed-exitcode when the plan has changes, 1 for an error.",
    )
    config_commands.add_apply_arguments(apply)
    export = commands.add_parser(
        "export", help="write the account's services and windows as a configuration file"
    )
    config_commands.add_export_arguments(export)
    imports = commands.add_parser(
        "import",
        help="turn a Gatus configuration or an Uptime Kuma database into a configuration file",
        description="Write the services another tool monitors as a statuschecker configuration "
        "file (apply it with `statuschecker apply -f`); what does not map is listed on stderr "
        "and at the head of the file.",
    )
    config_commands.add_import_arguments(imports)
    args = parser.parse_args(argv)
    if args.command == "dashboard":
        return cmd_dashboard(dashboard, args.url, args.token)
    if args.command == "wrap":
        return cmd_wrap(wrap, args)
    if args.command == "apply":
        return config_commands.cmd_apply(args)
    if args.command == "export":
        return config_commands.cmd_export(args)
    if args.command == "import":
        return config_commands.cmd_import(args)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    """The commands that need the settings (and most, the database): run until done or
    stopped; 2 for invalid settings, 1 for a refused request or failed migrations."""
    from pydantic import ValidationError

    from statuschecker.errors import DomainError
    from statuschecker.system import logs
    from statuschecker.system.config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            loc = "_".join(str(part) for part in error["loc"]).upper()
            name = f"STATUSCHECKER_{loc}" if loc else "settings"
            print(f"statuschecker: {name}: {error['msg']}", file=sys.stderr)
        return 2
    logs.configure(settings)
    actions: dict[str, Callable[[], None]] = {
        "run": lambda: cmd_run(settings),
        "api": lambda: cmd_api(settings),
        "poller": lambda: cmd_poller(
            settings,
            getattr(args, "processes", None),
            getattr(args, "metrics_port", None),
            getattr(args, "location", None),
        ),
        "migrate": lambda: cmd_migrate(settings),
        "db": lambda: cmd_db(settings, getattr(args, "action", "url")),
        "user": lambda: cmd_user_add(settings, args.email, args.admin),
    }
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        actions[args.command]()
    except (_Stop, KeyboardInterrupt) as stop:
        log.info("statuschecker.stopped", reason=str(stop) or "SIGINT")
    except DomainError as refused:
        print(f"statuschecker: {refused.detail}", file=sys.stderr)
        return 1
    except MigrationFailed as failed:
        print(f"statuschecker: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
