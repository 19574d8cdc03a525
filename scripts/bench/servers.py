"""The processes a benchmark starts: the HTTP target (nginx, else target.py), statuschecker's
roles and Prometheus' blackbox_exporter. Each is a child process on 127.0.0.1 with its files in
a temporary directory, stopped (and its process group killed) when the ExitStack closes."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from select import select as wait_readable

TARGET = Path(__file__).resolve().with_name("target.py")
STATUSCHECKER = Path(sys.executable).with_name("statuschecker")
NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ default_type text/plain; return 200 "ok"; }}
    }}
}}
"""
BLACKBOX_CONF = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
"""


@dataclass
class Started:
    """A started server: its process, what it is and where it listens."""

    proc: subprocess.Popen
    name: str
    port: int

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def temp_dir(stack: contextlib.ExitStack, prefix: str) -> Path:
    """A temporary directory removed when `stack` closes."""
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))


def spawn(stack: contextlib.ExitStack, argv: list[str], **popen: object) -> subprocess.Popen:
    """Start `argv` in a process group of its own; on close: SIGTERM, wait up to 30 s (a poller
    writes what it holds), then SIGKILL the whole group."""
    proc = subprocess.Popen(argv, start_new_session=True, **popen)  # type: ignore[call-overload]

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers of its group (children)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    stack.callback(stop)
    return proc


def wait_until(
    ready: Callable[[], bool], proc: subprocess.Popen, what: str, timeout: float
) -> None:
    """Poll `ready` every 0.1 s until true; RuntimeError if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s")


def answers(url: str, headers: dict[str, str] | None = None) -> bool:
    """Whether `url` answers an HTTP request at all (any status)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def start_target(
    stack: contextlib.ExitStack, use_nginx: bool = True, options: tuple[str, ...] = ()
) -> Started:
    """nginx with a minimal config (one worker, `return 200 "ok"`, no access log) when it is
    installed, else target.py (a Python asyncio server) in its own process; target.py always
    when `options` of its (`--fail-one-in 10`) are given."""
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if use_nginx and nginx and not options:
        tmp = temp_dir(stack, "statuschecker-bench-nginx-")
        port = free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
        err = (tmp / "stderr").open("w")
        stack.callback(err.close)
        proc = spawn(stack, [nginx, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
                     stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/"), proc, "nginx", 10)
        return Started(proc, f"nginx ({nginx}, 1 worker)", port)
    proc = spawn(
        stack, [sys.executable, str(TARGET), "--port", "0", "--watch-parent", *options],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    ready, _, _ = wait_readable([proc.stdout], [], [], 10.0)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("listening "):
        raise RuntimeError(f"target did not start (said {line!r}, exit code {proc.poll()})")
    why = " ".join(options) if options else "nginx not installed"
    return Started(proc, f"target.py (Python asyncio; {why})", int(line.split()[1]))


def start_statuschecker(
    stack: contextlib.ExitStack, args: list[str], env: dict[str, str], log: Path
) -> subprocess.Popen:
    """`statuschecker <args>` with `env` added to ours, its output appended to `log`."""
    out = log.open("a")
    stack.callback(out.close)
    return spawn(
        stack,
        [str(STATUSCHECKER), *args],
        env={**os.environ, **env},
        stdout=out,
        stderr=out,
        cwd=log.parent,  # no .env of the checkout is read
    )


def has_roles() -> bool:
    """Whether this statuschecker has the `api` and `poller --processes` roles."""
    try:
        done = subprocess.run(
            [str(STATUSCHECKER), "poller", "--help"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "--processes" in done.stdout


def start_blackbox(stack: contextlib.ExitStack) -> Started:
    """prometheus-blackbox-exporter with an `http_2xx` module, listening on 127.0.0.1."""
    exe = shutil.which("prometheus-blackbox-exporter") or shutil.which("blackbox_exporter")
    if exe is None:
        raise RuntimeError(
            "--peer blackbox needs prometheus-blackbox-exporter (apt install "
            "prometheus-blackbox-exporter)"
        )
    tmp = temp_dir(stack, "statuschecker-bench-blackbox-")
    conf = tmp / "blackbox.yml"
    conf.write_text(BLACKBOX_CONF)
    port = free_port()
    err = (tmp / "stderr").open("w")
    stack.callback(err.close)
    proc = spawn(
        stack,
        [exe, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{port}",
         "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=err, cwd=tmp,
    )  # fmt: skip
    wait_until(lambda: answers(f"http://127.0.0.1:{port}/metrics"), proc, "blackbox_exporter", 15)
    return Started(proc, f"blackbox_exporter ({exe})", port)
