"""`statuschecker wrap` as cron runs it: a real process reporting to a local receiver on
127.0.0.1 standing in for the monitor's ping endpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from receivers import Receiver
from targets import free_port

from statuschecker.cli import main
from statuschecker.wrap import TAIL_BYTES, OutputTail, masked_ping_url

KEY = "k3y-0f-the-heartbeat-Zm9vYmFyYmF6cXV4"
PYTHON = sys.executable
_CONSOLE_SCRIPT = Path(sys.executable).with_name("statuschecker")
WRAP = [str(_CONSOLE_SCRIPT)] if _CONSOLE_SCRIPT.exists() else [PYTHON, "-m", "statuschecker.cli"]


@dataclass(frozen=True)
class Ping:
    """One ping as the monitor received it."""

    method: str
    path: str
    rid: str
    body: bytes


def pings(receiver: Receiver) -> list[Ping]:
    found = []
    for request in receiver.requests:
        url = urlsplit(request.path)
        rid = parse_qs(url.query).get("rid", [""])[0]
        found.append(Ping(request.method, url.path, rid, request.body))
    return found


def env(**extra: str) -> dict[str, str]:
    """The environment without any STATUSCHECKER_ setting, plus `extra`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STATUSCHECKER_")}
    return clean | extra


def wrap(
    *command: str, url: str | None, options: tuple[str, ...] = (), **extra_env: str
) -> subprocess.CompletedProcess[bytes]:
    """Run `statuschecker wrap [--ping-url url] options -- command` to its end."""
    ping_url = ("--ping-url", url) if url is not None else ()
    return subprocess.run(
        [*WRAP, "wrap", *ping_url, *options, "--", *command],
        env=env(**extra_env),
        capture_output=True,
        timeout=60,
        check=False,
    )


def sh(script: str) -> tuple[str, ...]:
    return ("sh", "-c", script)


@pytest.fixture
def monitor() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def ping_url(receiver: Receiver) -> str:
    return f"{receiver.url}/ping/{KEY}"


def test_a_job_that_succeeds_sends_start_then_0_with_its_output(monitor: Receiver) -> None:
    done = wrap(*sh("echo out; echo err >&2"), url=ping_url(monitor))

    assert done.returncode == 0
    assert (done.stdout, done.stderr) == (b"out\n", b"err\n")  # passed through, nothing added
    start, end = pings(monitor)
    assert (start.method, start.path, start.body) == ("POST", f"/ping/{KEY}/start", b"")
    assert (end.method, end.path) == ("POST", f"/ping/{KEY}/0")
    assert sorted(end.body.splitlines()) == [b"err", b"out"]
    assert monitor.requests[1].headers["content-type"] == "text/plain"


def test_a_failing_job_reports_its_exit_status_and_the_wrapper_exits_with_it(
    monitor: Receiver,
) -> None:
    done = wrap(*sh("echo broken >&2; exit 3"), url=ping_url(monitor))

    assert done.returncode == 3
    assert [(p.path, p.body) for p in pings(monitor)] == [
        (f"/ping/{KEY}/start", b""),
        (f"/ping/{KEY}/3", b"broken\n"),
    ]


def test_only_the_last_10_kb_of_the_output_is_sent_and_all_of_it_passed_through(
    monitor: Receiver,
) -> None:
    program = "import sys; sys.stdout.write(''.join(f'{i:07d}\\n' for i in range(20000)))"
    done = wrap(PYTHON, "-c", program, url=ping_url(monitor))

    expected = "".join(f"{i:07d}\n" for i in range(20000)).encode()
    assert done.returncode == 0
    assert done.stdout == expected
    assert pings(monitor)[-1].body == expected[-TAIL_BYTES:]


def test_a_gigabyte_of_output_does_not_grow_the_wrappers_memory(monitor: Receiver) -> None:
    def peak_kib(*command: str) -> int:
        """The wrapper's peak RSS running `command`. A forked child's peak counts pages it
        shared with this (test) process before exec, so only a comparison of two runs
        measured alike says what the job's output cost."""
        process = subprocess.Popen(
            [*WRAP, "wrap", "--ping-url", ping_url(monitor), "--", *command],
            env=env(),
            stdout=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        return usage.ru_maxrss

    baseline = peak_kib("true")
    gigabyte = peak_kib("head", "-c", str(2**30), "/dev/zero")

    assert gigabyte - baseline < 30 * 1024  # KiB: bounded buffers, not the output
    assert pings(monitor)[-1].body == bytes(TAIL_BYTES)


def test_a_job_killed_by_a_signal_is_128_plus_the_signal(monitor: Receiver) -> None:
    done = wrap(*sh("kill -9 $$"), url=ping_url(monitor))

    assert done.returncode == 137
    assert pings(monitor)[-1].path == f"/ping/{KEY}/137"


def test_sigterm_to_the_wrapper_stops_the_job_and_is_reported(monitor: Receiver) -> None:
    process = subprocess.Popen(
        [*WRAP, "wrap", "--ping-url", ping_url(monitor), "--", *sh("echo ready; exec sleep 30")],
        env=env(),
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=10) == 128 + signal.SIGTERM
    assert time.monotonic() - started < 5
    assert pings(monitor)[-1].path == f"/ping/{KEY}/143"
    process.stdout.close()


def test_sigterm_while_the_start_ping_hangs_stops_the_wrapper_before_the_job(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    with Receiver(hang=True) as monitor:
        process = subprocess.Popen(
            [*WRAP, "wrap", "--ping-url", ping_url(monitor), "--", "touch", str(marker)],
            env=env(),
            stderr=subprocess.PIPE,
        )
        monitor.wait_for(1)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=5)

    assert process.returncode == 143
    assert not marker.exists()
    assert err.decode().splitlines() == [
        "statuschecker wrap: stopped by SIGTERM before the job started; nothing more reported"
    ]
    assert len(monitor.requests) == 1


def test_sigterm_while_the_exit_status_ping_hangs_cuts_it_short(
    monitor: Receiver, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    process = subprocess.Popen(
        [
            *WRAP,
            "wrap",
            "--ping-url",
            ping_url(monitor),
            "--",
            *sh(f"while [ ! -e {go} ]; do sleep 0.02; done; exit 6"),
        ],
        env=env(),
        stderr=subprocess.PIPE,
    )
    monitor.wait_for(1)
    monitor.hang = True
    go.touch()
    monitor.wait_for(2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=5)

    assert process.returncode == 6  # the job's, not the signal's
    assert err.decode().splitlines() == [
        "statuschecker wrap: could not reach the monitor: exit status ping: interrupted by "
        f"SIGTERM ({monitor.url}/ping/…); the job ran anyway"
    ]


def test_a_command_not_found_is_127_said_on_stderr_and_reported(monitor: Receiver) -> None:
    done = wrap("no-such-command-anywhere", "--flag", url=ping_url(monitor))

    assert done.returncode == 127
    assert done.stderr.decode().splitlines() == [
        "statuschecker wrap: cannot run 'no-such-command-anywhere': No such file or directory"
    ]
    start, end = pings(monitor)
    assert (start.path, end.path) == (f"/ping/{KEY}/start", f"/ping/{KEY}/127")
    assert b"No such file or directory" in end.body


def test_a_command_that_is_not_executable_is_126(monitor: Receiver, tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho never\n")
    script.chmod(0o644)

    done = wrap(str(script), url=ping_url(monitor))

    assert done.returncode == 126
    assert b"Permission denied" in done.stderr
    assert pings(monitor)[-1].path == f"/ping/{KEY}/126"


def test_with_the_monitor_down_the_job_runs_and_its_status_passes_through(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    url = f"http://127.0.0.1:{free_port()}/ping/{KEY}"
    started = time.monotonic()

    done = wrap(*sh(f"touch {marker}; exit 5"), url=url)

    # 3 attempts per ping, 0.5 s and 1 s apart, refused at once: 3 s and the start-up.
    assert time.monotonic() - started < 10
    assert done.returncode == 5
    assert marker.exists()
    lines = done.stderr.decode().splitlines()
    assert lines == [
        "statuschecker wrap: could not reach the monitor: "
        "start ping: connection refused (3 attempts), "
        "exit status ping: connection refused (3 attempts) "
        f"(http://127.0.0.1:{urlsplit(url).port}/ping/…); the job ran anyway"
    ]
    assert KEY not in done.stderr.decode()


def test_a_monitor_answering_500_is_retried_then_given_up() -> None:
    with Receiver(status=500) as monitor:
        done = wrap(*sh("exit 0"), url=ping_url(monitor), options=("--retries", "1"))

    assert done.returncode == 0
    assert [p.path.rsplit("/", 1)[1] for p in pings(monitor)] == ["start", "start", "0", "0"]
    assert done.stderr.decode().splitlines() == [
        "statuschecker wrap: could not reach the monitor: start ping: HTTP 500 (2 attempts), "
        f"exit status ping: HTTP 500 (2 attempts) ({monitor.url}/ping/…); the job ran anyway"
    ]


def test_a_ping_that_succeeds_on_a_retry_is_no_failure() -> None:
    with Receiver(fail_first=2) as monitor:
        done = wrap(*sh("exit 0"), url=ping_url(monitor))

    assert (done.returncode, done.stderr) == (0, b"")
    runs = [(p.path.rsplit("/", 1)[1], p.rid) for p in pings(monitor)]
    assert [what for what, _ in runs] == ["start", "start", "start", "0"]
    assert len({rid for _, rid in runs}) == 1  # a retry is the same run


def test_a_monitor_that_never_answers_is_given_up_after_the_timeout() -> None:
    with Receiver(hang=True) as monitor:
        started = time.monotonic()
        done = wrap(
            *sh("exit 2"), url=ping_url(monitor), options=("--timeout", "0.5", "--retries", "0")
        )
        elapsed = time.monotonic() - started

    assert done.returncode == 2
    assert elapsed < 6
    assert b"start ping: timeout (read) (1 attempt)" in done.stderr


def test_a_run_id_is_the_same_on_start_and_end_and_new_for_each_run(monitor: Receiver) -> None:
    wrap("true", url=ping_url(monitor))
    wrap("true", url=ping_url(monitor))

    first_start, first_end, second_start, second_end = pings(monitor)
    assert first_start.rid == first_end.rid != ""
    assert second_start.rid == second_end.rid != first_start.rid


def test_the_ping_url_may_come_from_the_environment(monitor: Receiver) -> None:
    done = wrap(*sh("exit 4"), url=None, STATUSCHECKER_PING_URL=f"{ping_url(monitor)}/")

    assert done.returncode == 4
    assert [p.path for p in pings(monitor)] == [f"/ping/{KEY}/start", f"/ping/{KEY}/4"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["wrap", "--", "true"], "no ping URL: pass --ping-url URL or set STATUSCHECKER_PING_URL"),
        (["wrap", "--ping-url", f"http://127.0.0.1:9/ping/{KEY}"], "no command to run"),
        (["wrap", "--ping-url", f"http://127.0.0.1:9/ping/{KEY}", "--"], "no command to run"),
        (["wrap", "--ping-url", f"ftp://host/ping/{KEY}", "--", "true"], "not an http:// or"),
        (["wrap", "--ping-url", "u", "--retries", "-1", "--", "true"], "needs 0 or more"),
        (["wrap", "--ping-url", "u", "--timeout", "0", "--", "true"], "above 0"),
    ],
)
def test_a_usage_error_exits_2_and_says_what_is_missing(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("STATUSCHECKER_PING_URL", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert KEY not in error


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://hc.example.com/ping/{KEY}", "https://hc.example.com/ping/…"),
        (f"https://hc.example.com/ping/{KEY}/", "https://hc.example.com/ping/…"),
        (f"https://hc.example.com/{KEY}", "https://hc.example.com/…"),
        (f"http://user:pw@127.0.0.1:8080/ping/{KEY}/job?x=1", "http://127.0.0.1:8080/ping/…"),
        ("https://hc.example.com", "https://hc.example.com"),
    ],
)
def test_a_ping_url_is_shown_without_its_key(url: str, shown: str) -> None:
    assert masked_ping_url(url) == shown


def test_the_output_tail_keeps_the_last_bytes_whatever_the_chunks() -> None:
    tail = OutputTail(5)
    assert tail.value() == b""
    tail.append(b"abc")
    assert tail.value() == b"abc"
    tail.append(b"defg")
    assert tail.value() == b"cdefg"
    tail.append(b"0123456789")
    assert tail.value() == b"56789"
