"""The terminal dashboard drawn into a recording console, against the real API served over
HTTP with a poller checking real local targets."""

from __future__ import annotations

import io
import itertools
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from accounts import Account
from rich.console import Console, RenderableType
from rich.segment import Segment
from targets import Target, closed_port_url
from waiting import wait_until

from statuschecker import cli
from statuschecker.console import (
    LONG_WINDOW,
    REFUSED_TOKEN,
    SHORT_WINDOW,
    ApiClient,
    Board,
    render,
    run,
)

WIDTH = 200
# A zone with a half-hour offset and no daylight saving, so local times cannot pass for UTC.
ZONE = "Asia/Kolkata"


def recording_console(terminal: bool = False) -> Console:
    return Console(
        record=True,
        width=WIDTH,
        file=io.StringIO(),
        force_terminal=terminal,
        color_system="truecolor",
    )


def text_of(view: RenderableType) -> str:
    console = recording_console()
    console.print(view)
    return console.export_text()


def line_with(view: RenderableType, needle: str) -> list[Segment]:
    """The segments of the first drawn line whose text contains `needle`."""
    console = recording_console()
    for line in console.render_lines(view, console.options, pad=False):
        if needle in "".join(segment.text for segment in line):
            return line
    raise AssertionError(f"{needle!r} is not drawn")


def colours(line: list[Segment]) -> set[str | None]:
    """The foreground colours of the line's visible characters."""
    return {
        segment.style.color.name if segment.style and segment.style.color else None
        for segment in line
        if segment.text.strip() and segment.text.strip() not in "│┃┆"
    }


def row_of(text: str, name: str) -> list[str]:
    """The drawn lines of the services-table row that starts with `name`."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(f"│ {name} "))
    rest = itertools.takewhile(lambda line: line.startswith("│"), lines[first + 1 :])
    return [lines[first], *rest]


def register(api: str, account: Account, **service: Any) -> dict[str, Any]:
    response = httpx.post(f"{api}/v1/services", json=service, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The process's local time zone set to ZONE for the test."""
    monkeypatch.setenv("TZ", ZONE)
    time.tzset()
    yield ZONE
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def up_target() -> Iterator[Target]:
    with Target("up") as target:
        yield target


@pytest.fixture
def watched(
    live_server: str, make_account: Callable[..., Account], up_target: Target
) -> tuple[str, Account]:
    """The live server and an account with a service that is up and one that is down and has
    raised its alert, both checked at least once; another account has a service too."""
    account = make_account("dashboard@example.com")
    register(live_server, account, name="web-up", url=up_target.url, interval_seconds=1)
    register(
        live_server,
        account,
        name="db-down",
        url=closed_port_url(),
        interval_seconds=1,
        alert_policy={"window_seconds": 3, "min_checks": 1},
    )
    other = make_account("someone-else@example.com")
    register(live_server, other, name="not-mine", url=up_target.url, interval_seconds=1)

    def checked_and_alerted() -> bool:
        with ApiClient(live_server, account.token) as client:
            checked = all(s["status"] != "unknown" for s in client.services())
            return checked and bool(client.alerts())

    wait_until(checked_and_alerted, timeout=20)
    return live_server, account


def fresh_board(api: str, token: str) -> Board:
    board = Board(api)
    with ApiClient(api, token) as client:
        board.refresh(client, {SHORT_WINDOW, LONG_WINDOW})
    return board


def test_the_view_shows_the_accounts_services_both_windows_and_the_alert_feed(
    watched: tuple[str, Account], local_zone: str
) -> None:
    api, account = watched
    board = fresh_board(api, account.token)
    view = render(board)
    text = text_of(view)

    assert board.error is None
    assert "web-up" in text and "db-down" in text
    assert "not-mine" not in text
    assert "last 10 min" in text and "last hour" in text
    up_row, down_row = row_of(text, "web-up"), row_of(text, "db-down")
    # The two windows side by side: each figure twice on the service's own lines.
    assert "up" in up_row[0] and "down" in down_row[0]
    assert len(re.findall(r"100\.0 % available, \d+ checks", up_row[0])) == 2
    assert len(re.findall(r" 0\.0 % available, \d+ checks", down_row[0])) == 2
    assert len(re.findall(r"codes 200: \d+", "\n".join(up_row))) == 2
    assert len(re.findall(r"codes connection refused: \d+", "\n".join(down_row))) == 2
    up_id = next(s["id"] for s in board.services if s["name"] == "web-up")
    for window in (SHORT_WINDOW, LONG_WINDOW):
        figures = board.stats[window][up_id]
        rt, ttfb = figures["response_time_ms"], figures["ttfb_ms"]
        assert f"response {rt['avg']:.1f} / {rt['max']:.1f} ms" in "\n".join(up_row)
        assert f"TTFB {ttfb['avg']:.1f} / {ttfb['max']:.1f} ms" in "\n".join(up_row)
    assert "\n".join(down_row).count("response -") == 2  # no response, no time

    alerts = text.split("alerts, newest first", 1)[1]
    alert = board.alerts[0]
    assert alert["service_name"] == "db-down" and alert["kind"] == "down"
    feed_line = next(line for line in alerts.splitlines() if "db-down" in line)
    assert " down " in feed_line and "Service db-down is down" in feed_line
    local = datetime.fromisoformat(alert["time"]).astimezone()
    assert local.utcoffset() == timedelta(hours=5, minutes=30)
    assert local.strftime("%Y-%m-%d %H:%M:%S IST") in feed_line
    assert "updated " in text and " IST" in text.splitlines()[0]

    assert colours(line_with(view, "db-down")) == {"red"}
    up_colours = colours(line_with(view, "web-up"))
    assert "red" not in up_colours and "green" in up_colours


def test_every_page_of_services_is_fetched(
    live_server: str, make_account: Callable[..., Account], up_target: Target
) -> None:
    account = make_account("pages@example.com")
    names = [f"svc-{i}" for i in range(3)]
    for name in names:
        register(live_server, account, name=name, url=up_target.url, interval_seconds=60)
    with ApiClient(live_server, account.token) as client:
        assert [s["name"] for s in client.services(page_size=1)] == names


def test_a_refused_token_is_said_plainly_and_the_last_figures_stay(
    watched: tuple[str, Account],
) -> None:
    api, account = watched
    board = fresh_board(api, account.token)
    with ApiClient(api, account.token + "x") as refused:
        board.refresh(refused, {SHORT_WINDOW})
    view = render(board)

    assert board.error == REFUSED_TOKEN
    assert "the token was refused (expired or revoked): log in again" in text_of(view)
    assert colours(line_with(view, "the token was refused")) == {"red"}
    assert "web-up" in text_of(view)

    with ApiClient(api, account.token) as client:
        board.refresh(client, {SHORT_WINDOW})
    assert board.error is None
    assert "token was refused" not in text_of(render(board))


def test_an_unreachable_api_is_said_plainly() -> None:
    url = closed_port_url().rstrip("/")
    board = Board(url)
    with ApiClient(url, "any-token") as client:
        board.refresh(client, {SHORT_WINDOW, LONG_WINDOW})
    view = render(board)

    assert f"cannot reach {url}: connection refused" in text_of(view)
    assert colours(line_with(view, "cannot reach")) == {"red"}
    assert "no services yet" not in text_of(view)  # nothing is known, not "none"


class CountingClient(ApiClient):
    """An ApiClient that notes the window of every stats request."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, token)
        self.windows: list[int] = []

    def stats(self, service_id: int, window_seconds: int) -> dict[str, Any]:
        self.windows.append(window_seconds)
        return super().stats(service_id, window_seconds)


def test_the_loop_refreshes_the_hour_less_often_than_the_ten_minutes(
    watched: tuple[str, Account],
) -> None:
    api, account = watched
    console = recording_console(terminal=True)
    started = time.monotonic()
    client = CountingClient(api, account.token)
    with client:  # ApiClient.__enter__ is typed to return an ApiClient, not a CountingClient
        assert run(client, console, short_seconds=0.05, long_seconds=0.3, max_frames=12) == 0
    elapsed = time.monotonic() - started

    services = 2
    assert client.windows.count(SHORT_WINDOW) == 12 * services
    long_turns = client.windows.count(LONG_WINDOW) / services
    assert 2 <= long_turns <= elapsed / 0.3 + 1
    assert elapsed >= 11 * 0.05
    assert "db-down" in console.export_text()


def test_the_loop_keeps_trying_while_the_api_is_unreachable() -> None:
    url = closed_port_url().rstrip("/")
    console = recording_console(terminal=True)
    with CountingClient(url, "any-token") as client:
        assert run(client, console, short_seconds=0.01, max_frames=3) == 0
    assert f"cannot reach {url}: connection refused" in console.export_text()


LOOP_MODULE = "statuschecker.console"


def in_the_loop() -> bool:
    """Whether the main thread is inside the dashboard's drawing loop (`console.run`)."""
    main = threading.main_thread().ident
    frame = sys._current_frames().get(main) if main is not None else None
    while frame is not None:
        if frame.f_code.co_name == "run" and frame.f_globals.get("__name__") == LOOP_MODULE:
            return True
        frame = frame.f_back
    return False


@pytest.fixture
def ctrl_c_when() -> Iterator[Callable[[Callable[[], bool]], None]]:
    """Sends SIGINT to the main thread, as Ctrl-C does, once the condition given holds (the
    board is drawn: a signal sent before the loop runs would interrupt the test run itself,
    as it could on a loaded machine with a fixed delay); at the latest after 30 s, so that
    the test never hangs. Ctrl-C raises KeyboardInterrupt for the test even when the test
    run was started with SIGINT ignored (as a shell's background job is)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def arm(ready: Callable[[], bool]) -> None:
        main = threading.main_thread().ident
        assert main is not None and threading.current_thread().ident == main

        def watch() -> None:
            deadline = time.monotonic() + 30
            while not stop.wait(0.05):
                if time.monotonic() > deadline or ready():
                    stop.wait(0.3)  # a few frames more
                    signal.pthread_kill(main, signal.SIGINT)
                    return

        thread = threading.Thread(target=watch, daemon=True)
        threads.append(thread)
        thread.start()

    yield arm
    stop.set()
    for thread in threads:
        thread.join()
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_the_loop_cleanly_and_restores_the_terminal(
    watched: tuple[str, Account], ctrl_c_when: Callable[[Callable[[], bool]], None]
) -> None:
    api, account = watched
    console = recording_console(terminal=True)
    assert isinstance(console.file, io.StringIO)
    drawn_so_far = console.file
    ctrl_c_when(lambda: in_the_loop() and "web-up" in drawn_so_far.getvalue())
    started = time.monotonic()
    with ApiClient(api, account.token) as client:
        # max_frames only bounds the test should the signal go astray (about 30 s).
        assert run(client, console, short_seconds=0.1, max_frames=300) == 0
    assert time.monotonic() - started < 10

    assert isinstance(console.file, io.StringIO)
    drawn = console.file.getvalue()
    assert "web-up" in drawn
    assert drawn.startswith("\x1b[?1049h")  # the alternate screen, entered
    assert drawn.endswith("\x1b[?25h\x1b[?1049l")  # cursor shown, alternate screen left


def test_the_command_reads_url_and_token_from_the_environment_and_exits_0_on_ctrl_c(
    watched: tuple[str, Account],
    ctrl_c_when: Callable[[Callable[[], bool]], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api, account = watched
    monkeypatch.setenv("STATUSCHECKER_URL", api)
    monkeypatch.setenv("STATUSCHECKER_TOKEN", account.token)
    started = time.monotonic()
    ctrl_c_when(lambda: in_the_loop() and time.monotonic() - started > 2.0)

    assert cli.main(["dashboard"]) == 0
    out, err = capsys.readouterr()
    assert "db-down" in out and "web-up" in out
    assert err == ""


def test_the_command_without_a_token_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("STATUSCHECKER_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.main(["dashboard", "--url", "http://127.0.0.1:9"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "STATUSCHECKER_TOKEN" in err and "POST /v1/auth/token" in err
    assert "test/scripts/login.sh" in err
