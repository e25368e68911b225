"""The one place that starts, watches and ends worker processes.

Training, merging and exporting, and the speed measurement each run as `python -m lora_studio...` in a
process of their own: the web server stays responsive, and the memory is freed when the worker ends.
Every kind goes through `start()` here, so every worker

- runs in its own process group (a server crash or Ctrl-C does not kill it; a cancel reaches its children),
- gets the same environment (`worker_env()`: unbuffered output, this package importable),
- appends its stdout and stderr to a log file under a banner line,
- is known by its pid *and* the kernel's start time of that pid (a reused pid is not mistaken for it),
- is stopped the same way: SIGTERM to the group, SIGKILL after a grace period,
- is reaped (no zombies), and is found again by a restarted server from the pid it recorded (`attach()`).

Each kind keeps its own status file whose fields extend `WorkerStatus`. Also here: the kernel's OOM-kill
count (evidence for a killed worker) and the web server's own CPU priority. No torch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from lora_studio.errors import StudioError
from lora_studio.messages import english, say_again, spoken, text

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
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pgid, sig)


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


# ---- what every worker records ---------------------------------------------------------------------------
def process_start_time(pid: int | None) -> str | None:
    """When `pid` started, in the kernel's clock ticks since boot (Linux); None elsewhere or when it has exited.
    A pid can be reused by another process later; its start time cannot."""
    if not pid:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields_after_name = stat.rsplit(")", 1)[-1].split()
    if not fields_after_name or fields_after_name[0] == "Z":
        return None  # a zombie: it has exited, only its exit status waits to be collected
    return fields_after_name[19] if len(fields_after_name) > 19 else None  # field 22 of proc(5)


_S = TypeVar("_S", bound="WorkerStatus")


@dataclass
class WorkerStatus:
    """The fields every kind of worker keeps in its status file; a kind's own status class adds its fields."""

    state: str = ""
    phase: str = ""  # what it is doing now, in words
    pid: int | None = None
    pid_start: str | None = None  # the worker's start time as the kernel counts it: tells a reused pid apart
    started: float | None = None
    finished: float | None = None
    error: str = ""
    error_kind: str = ""
    hint: str = ""
    cancel_requested: bool = False
    # How to say `error` and `hint` again in a page's language, when they came from the message catalogue (workers
    # write English: the CLI and the logs read these files too).
    said: dict[str, Any] = field(default_factory=dict)

    def change(self, changes: Mapping[str, object]) -> None:
        """Set the fields in `changes`; an error or a hint keeps how to say it again (messages.spoken)."""
        for key, value in changes.items():
            setattr(self, key, value)
            if key in ("error", "hint"):
                how = spoken(value) if isinstance(value, str) else None
                self.said = {k: v for k, v in self.said.items() if k != key} | ({key: how} if how else {})

    def error_words(self) -> str:
        """The error in the current language (as written when the catalogue does not know it)."""
        return say_again(self.error, self.said.get("error"))

    def hint_words(self) -> str:
        return say_again(self.hint, self.said.get("hint"))

    @classmethod
    def from_dict(cls: type[_S], data: dict[str, Any]) -> _S:
        """The status in `data`, ignoring keys this version does not know (a newer or older file)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# ---- starting ---------------------------------------------------------------------------------------------
PACKAGE_PARENT = (
    Path(__file__).resolve().parent.parent
)  # the folder that holds lora_studio/ (checkout or site-packages)


class WorkerStartError(StudioError):
    """The operating system refused to start a worker (no such interpreter, no memory, too many processes).
    Its message is in the current language; `status_fields` writes the English words into a status file."""

    def __init__(self, reason: str) -> None:
        super().__init__(text("machine.start_failed", reason=reason), text("machine.start_hint"), kind="internal")
        self.reason = reason

    def status_fields(self, what: str) -> dict[str, Any]:
        """The fields a kind's status file records for it: failed now, with `what` the worker was for."""
        # English (a status file is also read by the CLI and the logs), said again on a page in its language
        return {
            "state": "failed",
            "phase": "failed",
            "finished": time.time(),
            "error_kind": self.kind,
            "error": english("machine.start_failed_for", reason=self.reason, what=what),
            "hint": english("machine.start_hint"),
        }


def worker_env(extra: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """A worker's environment: the server's, with unbuffered output (logs fill live) and this very package
    importable, less the names in `drop` (a secret a visitor must not use), plus `extra` (a secret that goes
    through the environment, never argv, where another user's `ps` could read it)."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONUNBUFFERED"] = "1"
    if not _installed():  # a checkout: the worker's own cwd is not the checkout, so say where the package is
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def _installed() -> bool:
    """True when the package lives in one of this interpreter's site-packages (pip install): a worker imports it
    from there. A checkout (or an editable install of one) is put on the worker's PYTHONPATH instead; never
    site-packages itself, whose neighbours of this package would then come before the standard library."""
    sites = {Path(sysconfig.get_paths()[name]).resolve() for name in ("purelib", "platlib")}
    return PACKAGE_PARENT in sites


def module_argv(module: str, *args: str) -> list[str]:
    """argv that runs `python -m module args` with this interpreter (a list: no shell, no quoting problems)."""
    return [sys.executable, "-m", module, *args]


# Our own children, so every one that ends is reaped (a zombie would look alive) whoever watches it.
_CHILDREN: dict[int, subprocess.Popen] = {}
_CHILDREN_LOCK = threading.Lock()


@dataclass
class Worker:
    """One worker process: started here (`start`) or found again after a server restart (`attach`)."""

    pid: int
    pid_start: str | None = None
    marker: Path | None = None  # a path its argv names (the run folder): identifies it when no start time is known
    oom_kills_at_start: int | None = None  # the kernel's OOM-kill count when it started: evidence, if it grows
    returncode: int | None = None  # once a child of ours ended and was reaped here
    _kill_timer: threading.Timer | None = field(default=None, repr=False)

    def exit_code(self) -> int | None:
        """None while it runs; its return code (negative: the signal) once it ended — 0 for a worker that is not
        our child, whose code the kernel gives only to its parent."""
        with _CHILDREN_LOCK:
            child = _CHILDREN.get(self.pid)
            if child is not None:
                code = child.poll()  # reaps it
                if code is not None:
                    del _CHILDREN[self.pid]
                    self.returncode = code
                return code
        if self.returncode is not None:
            return self.returncode
        return None if pid_alive(self.pid, self.marker, self.pid_start) else 0

    def running(self) -> bool:
        return self.exit_code() is None

    def stop(self, grace_s: float) -> None:
        """SIGTERM to its whole group now; SIGKILL to the group if it is still there after `grace_s` seconds."""
        signal_group(self.pid, signal.SIGTERM)
        if self._kill_timer is None:
            self._kill_timer = threading.Timer(grace_s, signal_group, (self.pid, signal.SIGKILL))
            self._kill_timer.daemon = True
            self._kill_timer.start()

    def end(self) -> None:
        """After it ended: kill whatever it left in its group (a dataloader child, a rank), cancel a pending kill."""
        if self._kill_timer is not None:
            self._kill_timer.cancel()
        signal_group(self.pid, signal.SIGKILL)

    def death(self, code: int) -> tuple[str, str]:
        """(what happened, kind) for a worker that ended without reporting; kind is "killed" or "out_of_memory".
        A signal is only blamed on memory when the kernel's OOM-kill count grew while it ran: a `kill -9` by a
        person is not an out-of-memory."""
        if code >= 0:
            return english("machine.death.exit", code=code), "killed"
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        now, before = oom_kills(), self.oom_kills_at_start
        if -code == signal.SIGKILL and now is not None and before is not None and now > before:
            return english("machine.death.oom"), "out_of_memory"
        return english("machine.death.signal", name=name), "killed"


def start(
    argv: list[str], log_file: Path, title: str, env: dict[str, str] | None = None, marker: Path | None = None
) -> Worker:
    """Start `argv` as a worker in a new process group, its output appended to `log_file` under a banner with
    `title`. Raises WorkerStartError (with what to do) when the system refuses to start it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log_file.open("ab") as out:  # the child keeps its own copy of the descriptor
            out.write(f"\n=== {title} {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
            out.flush()
            # cwd: the folder of its log (the run's own), never site-packages: `python -m` puts the cwd first on
            # sys.path, where an installed package's neighbours would shadow the standard library.
            process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=log_file.parent,
                env=env if env is not None else worker_env(),
                start_new_session=True,
            )
    except OSError as exc:
        raise WorkerStartError(str(exc)) from exc
    with _CHILDREN_LOCK:
        _CHILDREN[process.pid] = process
    return Worker(process.pid, process_start_time(process.pid), marker, oom_kills())


def attach(pid: int | None, pid_start: str | None = None, marker: Path | None = None) -> Worker | None:
    """The worker a status file names, if that very process still runs (our child or one a previous server
    started); None when it has ended. A child of ours that ended is reaped here."""
    if not pid:
        return None
    worker = Worker(int(pid), pid_start, marker)
    return worker if worker.running() else None


def reap() -> None:
    """Collect the exit status of every child of ours that ended."""
    with _CHILDREN_LOCK:
        for pid, child in list(_CHILDREN.items()):
            if child.poll() is not None:
                del _CHILDREN[pid]


def run_in_foreground(argv: list[str], on_start: Callable[[Worker], None] | None = None) -> int:
    """Run `argv` in this terminal (its output on ours, Ctrl-C reaching it too) and wait for it: the CLI's way
    to run a worker it shows. `on_start` records the worker before it gets going. A Ctrl-C here is passed on
    by the terminal to the worker as well; its end is awaited, then KeyboardInterrupt is raised again."""
    try:
        process = subprocess.Popen(argv, env=worker_env(), stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise WorkerStartError(str(exc)) from exc
    if on_start is not None:
        on_start(Worker(process.pid, process_start_time(process.pid), None, oom_kills()))
    interrupted = False
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        raise KeyboardInterrupt
    return code


def exit_worker(code: int) -> NoReturn:
    """End a worker process that has written all it reports, without the interpreter's teardown of torch and the
    libraries it loaded (about 2 s on 2 CPU cores, measured: bench/waits.py), so a run is over, and its job slot
    free, as soon as its status says so. Exit handlers still run and the logs are flushed. While a library's own
    thread still works (an upload to a tracker), the normal exit waits for it instead."""
    import atexit

    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if others:
        sys.exit(code)
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()  # type: ignore[union-attr]
    os._exit(code)
