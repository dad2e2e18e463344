"""Processes the lab started, identified by PID *and* start time so a recycled PID is never hit."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Proc:
    """A process as recorded when the lab started it."""

    pid: int
    start: int  # /proc/PID/stat field 22, clock ticks since boot

    @classmethod
    def of(cls, pid: int) -> Proc | None:
        start = start_time(pid)
        return None if start is None else cls(pid, start)

    def alive(self) -> bool:
        """Still the same process (not a later one that reused the PID), and not a zombie."""
        return start_time(self.pid) == self.start and state(self.pid) not in ("Z", "X", None)

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def to_json(self) -> list[int]:
        return [self.pid, self.start]

    @classmethod
    def from_json(cls, data: list[int] | None) -> Proc | None:
        return cls(int(data[0]), int(data[1])) if data else None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # comm may contain spaces and parentheses


def start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def state(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def ppid(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def comm(pid: int) -> str:
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in (PROC / str(pid) / "task" / str(pid) / "children").read_text()
                .split()]
    except OSError:
        return []


def namespace_id(pid: int, kind: str) -> str | None:
    """e.g. 'pid:[4026532201]' — the identity of one of the process's namespaces."""
    try:
        return os.readlink(PROC / str(pid) / "ns" / kind)
    except OSError:
        return None


def members(ns_id: str, kind: str = "pid") -> list[int]:
    """Host PIDs of every live process in the namespace ``ns_id`` of type ``kind``."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit() and namespace_id(int(entry.name), kind) == ns_id \
                and state(int(entry.name)) not in ("Z", "X", None):
            found.append(int(entry.name))
    return sorted(found)


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of pids is alive; return those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if state(p) not in ("Z", "X", None)]
        if left:
            time.sleep(0.05)
    return left


def terminate(proc: Proc, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``timeout``."""
    proc.signal(signal.SIGTERM)
    if wait_gone([proc.pid], timeout) and proc.alive():
        proc.signal(signal.SIGKILL)
        wait_gone([proc.pid], 5.0)
