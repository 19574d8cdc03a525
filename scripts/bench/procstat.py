"""CPU time and memory of process trees, read from /proc (Linux only).

A tree's CPU over a window is the change of the sum, over its live processes, of their own
user + system time plus the time of their children already reaped (`cutime + cstime`): a process
that exits inside the window moves its time into its parent's reaped share, so nothing is lost
or counted twice. RSS is `VmRSS` from /proc/<pid>/status, PSS
from /proc/<pid>/smaps_rollup.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Proc:
    """One process at one moment."""

    pid: int
    ppid: int
    name: str
    own_s: float  # utime + stime
    reaped_s: float  # cutime + cstime: children that exited and were waited for
    rss_mb: float
    pss_mb: float | None  # proportional share: pages shared with others divided among them


def read(pid: int) -> Proc | None:
    """The process `pid` now, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()  # fields[0] is field 3 (state)
    utime, stime, cutime, cstime = (int(v) / CLOCK_TICKS for v in fields[11:15])
    rss_kb = 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
            break
    pss_mb = None
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss_mb = int(line.split()[1]) / 1024
                break
    except OSError:
        pass
    return Proc(pid, int(fields[1]), name, utime + stime, cutime + cstime, rss_kb / 1024, pss_mb)


def parents() -> dict[int, int]:
    """pid -> parent pid of every process (one scan of /proc)."""
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            found[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    return found


def tree(root: int, ppids: dict[int, int] | None = None) -> list[int]:
    """`root` and all its descendants, root first."""
    ppids = parents() if ppids is None else ppids
    kids: dict[int, list[int]] = {}
    for pid, ppid in ppids.items():
        kids.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in ppids or pid == root:
            found.append(pid)
            todo.extend(sorted(kids.get(pid, [])))
    return found


def snapshot(pids: Iterable[int]) -> dict[int, Proc]:
    """The given processes that are alive now."""
    return {proc.pid: proc for proc in map(read, pids) if proc is not None}


def tree_cpu_s(procs: dict[int, Proc]) -> float:
    """CPU seconds used so far by a tree's live processes and their reaped children."""
    return sum(p.own_s + p.reaped_s for p in procs.values())


def tree_rss_mb(procs: dict[int, Proc]) -> float:
    """Resident memory of a tree's processes (shared pages counted in each)."""
    return sum(p.rss_mb for p in procs.values())


def tree_pss_mb(procs: dict[int, Proc]) -> float | None:
    """Proportional set size of a tree (shared pages divided), None when unreadable."""
    values = [p.pss_mb for p in procs.values()]
    return None if not values or None in values else sum(v for v in values if v is not None)
