"""Processes as the operating system sees them: is a pid (still) our worker, is its group alive, signal the
group, and the per-thread CPU priority of the web server."""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from lora_studio.runs import process_start_time

log = logging.getLogger(__name__)


# Where the kernel counts the processes its OOM killer ended in this machine's (or container's) memory cgroup:
# cgroup v2, then v1 (an 'oom_kill N' line in both).
OOM_COUNTERS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")


def oom_kills() -> int | None:
    """How many processes the kernel's OOM killer has ended here so far; None when no counter can be read."""
    for name in OOM_COUNTERS:
        try:
            lines = Path(name).read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
    return None


def pid_alive(pid: int | None, run_root: Path | None = None, pid_start: str | None = None) -> bool:
    """True when `pid` runs. With `pid_start` (its recorded start time), only when it is that very process;
    with `run_root` and no start time, only when its command line names the run or the package."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    started = process_start_time(pid)
    if pid_start:  # a reused pid (or a thread id) starts at another time; an exited one has none
        return started == pid_start if Path("/proc").is_dir() else True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if run_root is not None and cmdline.exists():
        try:
            parts = cmdline.read_bytes().split(b"\0")
        except OSError:
            return False  # it exited while we looked
        if not parts or parts == [b""]:
            return False  # a zombie: exited, not yet reaped
        # The dashboard's worker names the run folder; a CLI `train` names at least the package.
        return any(
            str(run_root).encode() in part or part == b"lora_studio" or part.startswith(b"lora_studio.")
            for part in parts
        )
    return True


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # already gone


def lower_server_priority(niceness: int) -> bool:
    """Lower the CPU priority (raise the nice value) of the calling thread and of every thread it starts later.

    Linux keeps a nice value per thread, so the job thread started before this call keeps its priority,
    and so do the workers it starts; an unprivileged process could not give them back a priority taken from
    it. Returns False where that is not possible (not Linux, or refused)."""
    if niceness <= 0 or not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(current + niceness, 19))
    except OSError as exc:
        log.warning("Could not lower the web server's CPU priority: %s", exc)
        return False
    return True
