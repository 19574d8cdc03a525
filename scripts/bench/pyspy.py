"""py-spy samples of a running Python process during a benchmark's window, summarised: where
its threads are (own time by function, time by function with what it calls), from py-spy's
collapsed stacks (`--format raw`). Sampling is `--nonblocking` (the target is never paused);
py-spy's own CPU is its own process's, in no measured group.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

RATE_HZ = 100


def executable() -> str | None:
    """py-spy beside this Python (the dev tools), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(
    popen: Callable[..., subprocess.Popen], pid: int, seconds: float, output: Path
) -> subprocess.Popen:
    """Start sampling `pid` for `seconds` into `output` (collapsed stacks, by thread)."""
    exe = executable()
    if exe is None:
        raise RuntimeError("--py-spy needs py-spy (pip install py-spy)")
    argv = [
        exe, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
        "--rate", str(RATE_HZ), "--format", "raw", "--threads", "--nonblocking",
        "--output", str(output),
    ]  # fmt: skip
    return popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait for a recording to be written."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)


def summary(
    path: Path, top: int = 12, ours: tuple[str, ...] = ("(statuschecker/", "(web/")
) -> dict[str, Any]:
    """Samples by thread, and the functions with most samples: own (the innermost frame,
    anywhere) and inclusive (anywhere on the stack; only frames of files under `ours`, which
    say what the time went to), each as a percentage of all samples."""
    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {"samples": 0}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        threads[_thread_name(frames[0])] += n
        own[frames[-1]] += n
        for frame in set(frames[1:]):
            if any(mark in frame for mark in ours):
                inclusive[frame] += n

    def share(counter: Counter[str]) -> dict[str, float]:
        return {name: round(100 * n / total, 1) for name, n in counter.most_common(top)}

    return {
        "samples": total,
        "threads_pct": share(threads) if total else {},
        "own_pct": share(own) if total else {},
        "ours_inclusive_pct": share(inclusive) if total else {},
    }


def _thread_name(frame: str) -> str:
    """`thread (1234): MainThread` -> `MainThread`; worker threads' names without numbers."""
    name = frame.split(": ", 1)[-1]
    return name.rstrip("0123456789_-") or name
