"""JobManager: the web server's side of training. It queues runs, starts one worker process per
run, stops and cancels them, and re-attaches to workers that outlived a server restart.

The run directory stays the only interface: the manager writes config.yaml (through
`runs.create_run`) and a few status fields; the worker writes everything else. A worker runs as
`python -m lora_studio.engine.worker --run-dir DIR` in its own process group (so a server crash or
Ctrl-C does not kill it, and a cancel reaches all of its children), with stdout and stderr
appended to train.log. A run with several processes starts that same module under `accelerate
launch` instead; the launcher is then the process watched, signalled and recorded (it passes a
SIGTERM on to every rank, and the ranks die with it). No torch here.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lora_studio import processes, settings
from lora_studio.config import RunConfig
from lora_studio.errors import ConfigError
from lora_studio.launch import WorkerCommand, check_startable, worker_command
from lora_studio.messages import english, status_words, text
from lora_studio.runs import (
    ACTIVE_STATES,
    RESUMABLE_STATES,
    RunPaths,
    create_run,
    list_runs,
    new_run_dir,
    read_status,
    request_stop,
    resumable_checkpoint,
    update_status,
)

log = logging.getLogger(__name__)


@dataclass
class Job:
    """A worker this server is watching: its own child, or one re-attached after a restart."""

    paths: RunPaths
    worker: processes.Worker
    cancel_requested: bool = False

    @property
    def pid(self) -> int:
        return self.worker.pid

    def exit_code(self) -> int | None:
        """None while it runs; the return code (negative = signal) once it ended."""
        return self.worker.exit_code()


class JobManager:
    """One training job at a time (per machine; `slots` for more GPUs), the rest queued in order."""

    def __init__(
        self,
        runs_root: str | Path | None = None,
        slots: int = 1,
        grace_s: float = 10.0,
        command: WorkerCommand = worker_command,
        poll_s: float = 0.5,
    ) -> None:
        self.runs_root = Path(runs_root) if runs_root else settings.runs_dir()
        self.slots = slots
        self.grace_s = grace_s
        self.command = command
        self.poll_s = poll_s
        self.jobs: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._wake = threading.Event()  # poll now, not at the next tick
        self._waiters: list[threading.Event] = []  # set once the poll they asked for is done

    # ---- user actions ------------------------------------------------------------------
    def submit(self, cfg: RunConfig, name: str = "run") -> RunPaths:
        """Freeze `cfg` in a new run directory and queue it; it starts at once when a slot is free."""
        check_startable(cfg)
        with self._lock:
            paths = new_run_dir(self.runs_root, name)
            create_run(paths, cfg)
            update_status(paths, queued_at=time.time(), resume=False)
        self._poll_now()
        return paths

    def resume(self, run_id: str) -> RunPaths:
        """Queue a stopped, failed, interrupted or cancelled run to continue from its last checkpoint."""
        with self._lock:
            paths = self._paths(run_id)
            status = read_status(paths)
            if status.state not in RESUMABLE_STATES:
                raise ConfigError(
                    text("jobs.not_resumable", run_id=run_id, state=status_words(status.state)),
                    text("jobs.not_resumable_hint"),
                )
            # The worker resumes from the newest complete checkpoint; when a kill or a full disk left only
            # incomplete ones, this says so now instead of queueing a run that would fail.
            if resumable_checkpoint(paths, log_skipped=False) is None:  # the worker logs what it skips
                raise ConfigError(text("jobs.no_checkpoint", run_id=run_id), text("jobs.no_checkpoint_hint"))
            update_status(
                paths,
                state="queued",
                queued_at=time.time(),
                resume=True,
                error="",
                error_kind="",
                hint="",
                phase="queued",
                finished=None,
            )
        self._poll_now()
        return paths

    def stop(self, run_id: str) -> str:
        """Stop and save: the worker saves the adapter at the next step and ends. A queued run leaves the queue."""
        with self._lock:
            paths = self._paths(run_id)
            state = read_status(paths).state
            if state == "queued":
                self._end_queued(paths, english("jobs.stopped_before_start"))
                return "cancelled"
            if state != "running":
                raise ConfigError(
                    text("jobs.not_running", run_id=run_id, state=status_words(state)), text("jobs.nothing_to_stop")
                )
            request_stop(paths)
            update_status(paths, phase="stopping: saving the last finished step")
            return "stopping"

    def cancel(self, run_id: str) -> str:
        """Terminate the worker now (no save); kill its whole process group if it lingers after the grace period."""
        with self._lock:
            paths = self._paths(run_id)
            state = read_status(paths).state
            if state == "queued":
                self._end_queued(paths, english("jobs.cancelled_before_start"))
                return "cancelled"
            job = self.jobs.get(run_id)
            if job is None or state != "running":  # ended already: its final state stands
                raise ConfigError(
                    text("jobs.not_running", run_id=run_id, state=status_words(state)), text("jobs.nothing_to_cancel")
                )
            job.cancel_requested = True
            update_status(paths, phase="cancelling")
            job.worker.stop(self.grace_s)
            return "cancelling"

    # ---- what is going on --------------------------------------------------------------
    def queued(self) -> list[str]:
        """Run ids waiting for a slot, next first."""
        waiting = []
        for paths in list_runs(self.runs_root):
            status = read_status(paths)
            # queued_at marks runs queued here; a CLI run is "queued" only for the instant before it starts.
            if paths.run_id not in self.jobs and status.state == "queued" and status.queued_at is not None:
                waiting.append((status.queued_at, paths.run_id))
        return [run_id for _, run_id in sorted(waiting)]

    def position(self, run_id: str) -> int | None:
        """1 = next to start; None when the run is not waiting."""
        order = self.queued()
        return order.index(run_id) + 1 if run_id in order else None

    def running(self) -> list[str]:
        with self._lock:
            return list(self.jobs)

    # ---- the loop ----------------------------------------------------------------------
    def poll(self) -> None:
        """Reap ended workers, then start queued runs while a slot is free. Safe to call often."""
        with self._lock:
            for run_id, job in list(self.jobs.items()):
                code = job.exit_code()
                if code is not None:
                    self._finish(job, code)
                    del self.jobs[run_id]
            for run_id in self.queued():
                if len(self.jobs) >= self.slots:
                    break
                self._start(self._paths(run_id))

    def recover(self) -> list[str]:
        """At server start: re-attach to live workers, mark runs whose worker died `interrupted`."""
        marked = []
        with self._lock:
            for paths in list_runs(self.runs_root):
                status = read_status(paths)
                if status.state != "running" or paths.run_id in self.jobs:
                    continue
                pid = status.pid or _read_pid(paths)  # worker.pid covers a worker still importing
                worker = processes.attach(pid, status.pid_start, paths.root)
                if worker is not None:
                    self.jobs[paths.run_id] = Job(paths, worker)
                    log.info("Re-attached to run %s (worker pid %s)", paths.run_id, pid)
                else:
                    _mark_dead(paths, english("jobs.server_away"))
                    marked.append(paths.run_id)
            self.poll()
        return marked

    def start_background(self) -> None:
        """Recover, then poll in a daemon thread so queued runs start without a browser open.

        While that thread runs, it alone starts workers: a worker inherits the CPU priority of the thread
        that starts it, and the server lowers its other threads' priority (`lower_server_priority`)."""
        if self._thread and self._thread.is_alive():
            return
        self.recover()
        self._halt.clear()
        self._thread = threading.Thread(target=self._loop, name="lora-studio-jobs", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop watching. Workers keep training: the next server re-attaches to them."""
        self._halt.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _poll_now(self, timeout_s: float = 10.0) -> None:
        """poll() at once: here without a background thread, else by that thread, waiting for it to finish."""
        thread = self._thread
        if thread is None or not thread.is_alive() or thread is threading.current_thread():
            self.poll()
            return
        done = threading.Event()
        with self._lock:
            self._waiters.append(done)
        self._wake.set()
        if not done.wait(timeout_s):
            log.warning("The job thread did not answer within %.0f s; the run stays queued", timeout_s)

    def _loop(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._halt.is_set():
                break
            with self._lock:
                waiters, self._waiters = self._waiters, []
            try:
                self.poll()
            except Exception:  # one damaged run folder must not stop every queued run
                log.exception("Job polling failed; trying again")
            finally:
                for done in waiters:
                    done.set()

    # ---- internals ---------------------------------------------------------------------
    def _paths(self, run_id: str) -> RunPaths:
        paths = RunPaths(self.runs_root / run_id)
        if "/" in run_id or run_id in ("", ".", "..") or not paths.config.is_file():
            raise ConfigError(text("jobs.no_such_run", run_id=run_id), text("jobs.no_such_run_hint"))
        return paths

    def _start(self, paths: RunPaths) -> None:
        resume = bool(read_status(paths).resume)
        paths.stop.unlink(missing_ok=True)
        update_status(paths, state="running", phase="starting the worker", started=time.time(), finished=None, pid=None)
        try:
            worker = processes.start(
                self.command(paths, resume),
                paths.log,
                f"worker started{' (resume)' if resume else ''}",
                None,
                paths.root,
            )
        except processes.WorkerStartError as exc:
            update_status(paths, **exc.status_fields("the training"))
            return
        self.jobs[paths.run_id] = Job(paths, worker)
        # Recorded now, not when the worker gets going: a server restarting meanwhile re-attaches to it.
        update_status(paths, pid=worker.pid, pid_start=worker.pid_start)
        try:
            (paths.root / "worker.pid").write_text(str(worker.pid), encoding="utf-8")
        except OSError as exc:
            log.warning("Could not write worker.pid for %s: %s", paths.run_id, exc)
        log.info("Started run %s (worker pid %d)", paths.run_id, worker.pid)

    def _finish(self, job: Job, code: int) -> None:
        job.worker.end()  # leave nothing behind the worker (e.g. dataloader children)
        status = read_status(job.paths)
        # A cancelled worker reports 'interrupted' (SIGTERM), nothing (SIGKILL) or 'failed' (a SIGTERM in the middle
        # of an import breaks the import); cancel() asks only while it runs, so one that ended first keeps its state.
        if job.cancel_requested and status.state in (*ACTIVE_STATES, "interrupted", "failed"):
            update_status(
                job.paths,
                state="cancelled",
                phase="cancelled",
                finished=time.time(),
                error_kind="",
                error=english("jobs.cancelled_by_user"),
                hint=english("jobs.resume_if_saved"),
            )
        elif status.state in ACTIVE_STATES:
            _mark_dead(job.paths, *_death(job, code))
        log.info("Run %s ended: %s", job.paths.run_id, read_status(job.paths).state)

    def _end_queued(self, paths: RunPaths, message: str) -> None:
        update_status(
            paths, state="cancelled", phase="cancelled", finished=time.time(), error=message, error_kind="", hint=""
        )


def _read_pid(paths: RunPaths) -> int | None:
    try:
        return int((paths.root / "worker.pid").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _death(job: Job, code: int) -> tuple[str, str, str]:
    """(message, kind, hint) for a worker that ended without reporting."""
    what, kind = job.worker.death(code)
    hint = "jobs.oom_killed_hint" if kind == "out_of_memory" else "jobs.killed_hint"
    return english("jobs.worker_died", what=what), kind, english(hint)


def _mark_dead(paths: RunPaths, message: str, kind: str = "killed", hint: str | None = None) -> None:
    """The run as interrupted, in English words that pages say again in their own language (messages.spoken)."""
    hint = hint if hint is not None else english("jobs.killed_hint")
    update_status(
        paths, state="interrupted", phase="interrupted", finished=time.time(), error=message, error_kind=kind, hint=hint
    )


_manager: JobManager | None = None
_manager_lock = threading.Lock()


def get_manager() -> JobManager:
    """The server's one JobManager, recovered and polling (created on first use)."""
    global _manager
    with _manager_lock:
        if _manager is not None and _manager.runs_root != settings.runs_dir():
            _manager.shutdown()  # the runs folder moved (tests do this): stop watching the old one
            _manager = None
        if _manager is None:
            _manager = JobManager(settings.runs_dir())
        _manager.start_background()  # also restarts a poll thread that died
        return _manager
