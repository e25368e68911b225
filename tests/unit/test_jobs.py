"""JobManager against a fake worker script: start, queue, stop, cancel, kill after grace, recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lora_studio.config import RunConfig, apply_overrides
from lora_studio.dataset_sources import sample_path
from lora_studio.errors import ConfigError, StudioError
from lora_studio.jobs import JobManager
from lora_studio.metrics import MetricsReader
from lora_studio.processes import group_alive, pid_alive
from lora_studio.runs import RunPaths, create_run, read_status, update_status

FAKE = Path(__file__).parent / "fakes" / "fake_worker.py"


def startable() -> RunConfig:
    """A config that passes launch.check_startable (the fake worker ignores it): a shipped sample as data."""
    return apply_overrides(RunConfig(), [f"data.path={sample_path('chat-assistant.jsonl')}"])


def fake(**opts):
    """A worker command that runs the fake worker with `opts` (written into the run folder first)."""

    def command(paths: RunPaths, resume: bool) -> list[str]:
        (paths.root / "fake.json").write_text(json.dumps(opts))
        return [sys.executable, str(FAKE), str(paths.root), *(["--resume"] if resume else [])]

    return command


def wait_for(predicate, timeout: float = 15.0, manager: JobManager | None = None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if manager:
            manager.poll()
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def state(paths: RunPaths) -> str:
    return read_status(paths).state


@pytest.fixture
def runs_root(tmp_path) -> Path:
    return tmp_path / "runs"


def test_a_job_runs_to_completion_and_its_output_goes_to_train_log(runs_root):
    manager = JobManager(runs_root, command=fake(steps=4))
    paths = manager.submit(startable(), "first")
    assert state(paths) == "running" and manager.running() == [paths.run_id]
    wait_for(lambda: state(paths) == "completed" and not manager.running(), manager=manager)
    rows = MetricsReader(paths.metrics).read_new()
    assert [r.step for r in rows] == [1, 2, 3, 4]
    assert "worker started" in paths.log.read_text()


def test_metrics_are_read_incrementally_while_the_worker_writes(runs_root):
    manager = JobManager(runs_root, command=fake(steps=20, step_s=0.05))
    paths = manager.submit(startable())
    reader, seen, reads = MetricsReader(paths.metrics), [], 0
    while state(paths) != "completed" or manager.running():
        manager.poll()
        new = reader.read_new()
        reads += bool(new)
        seen += [r.step for r in new]
        time.sleep(0.1)
    seen += [r.step for r in reader.read_new()]
    assert seen == list(range(1, 21))  # every row once, in order, none twice
    assert reads > 1  # rows arrived over several reads, not at the end


def test_one_job_at_a_time_the_next_is_queued_in_order(runs_root):
    manager = JobManager(runs_root, command=fake(steps=6, step_s=0.1))
    first = manager.submit(startable(), "a")
    second = manager.submit(startable(), "b")
    third = manager.submit(startable(), "c")
    assert state(first) == "running"
    assert state(second) == state(third) == "queued"
    assert manager.queued() == [second.run_id, third.run_id]
    assert manager.position(third.run_id) == 2 and manager.position(first.run_id) is None
    wait_for(lambda: state(second) == "running", manager=manager)
    assert state(first) == "completed" and manager.position(third.run_id) == 1
    wait_for(lambda: state(third) == "completed", manager=manager)


def test_stop_asks_the_worker_to_save_and_leaves_no_process(runs_root):
    manager = JobManager(runs_root, command=fake(steps=1000, step_s=0.05))
    paths = manager.submit(startable())
    wait_for(lambda: read_status(paths).step >= 2, manager=manager)
    pid = manager.jobs[paths.run_id].pid
    assert manager.stop(paths.run_id) == "stopping"
    wait_for(lambda: not manager.running(), manager=manager)
    assert state(paths) == "stopped"
    assert not group_alive(pid)


def test_stopping_a_queued_run_takes_it_out_of_the_queue(runs_root):
    manager = JobManager(runs_root, command=fake(steps=1000, step_s=0.05))
    running = manager.submit(startable())
    waiting = manager.submit(startable())
    assert manager.stop(waiting.run_id) == "cancelled"
    assert state(waiting) == "cancelled" and manager.queued() == []
    manager.cancel(running.run_id)
    wait_for(lambda: not manager.running(), manager=manager)


def test_cancel_terminates_the_whole_process_group(runs_root):
    manager = JobManager(runs_root, command=fake(steps=1000, step_s=0.05, child=True))
    paths = manager.submit(startable())
    child = int(wait_for(lambda: (paths.root / "child.pid").exists() and (paths.root / "child.pid").read_text()))
    pid = manager.jobs[paths.run_id].pid
    assert manager.cancel(paths.run_id) == "cancelling"
    wait_for(lambda: not manager.running(), manager=manager)
    status = read_status(paths)
    assert status.state == "cancelled" and "Cancelled" in status.error
    wait_for(lambda: not group_alive(pid) and not pid_alive(child))


def test_a_worker_that_ignores_sigterm_is_killed_after_the_grace_period(runs_root):
    manager = JobManager(runs_root, command=fake(steps=1000, step_s=0.05, ignore_term=True), grace_s=0.5)
    paths = manager.submit(startable())
    wait_for(lambda: read_status(paths).step >= 1, manager=manager)
    pid = manager.jobs[paths.run_id].pid
    started = time.time()
    manager.cancel(paths.run_id)
    time.sleep(0.3)
    manager.poll()
    assert manager.running() == [paths.run_id]  # SIGTERM ignored: still there inside the grace period
    wait_for(lambda: not manager.running(), manager=manager)
    assert time.time() - started >= 0.5
    assert state(paths) == "cancelled" and not group_alive(pid)


def test_a_worker_that_dies_without_reporting_is_marked_interrupted(runs_root):
    manager = JobManager(runs_root, command=fake(no_status=True, exit_code=3))
    paths = manager.submit(startable())
    wait_for(lambda: not manager.running(), manager=manager)
    status = read_status(paths)
    assert status.state == "interrupted" and "exited with code 3" in status.error
    assert status.error_kind == "killed" and "Resume" in status.hint


def test_sigkill_mid_run_is_reported_with_the_signal(runs_root):
    manager = JobManager(runs_root, command=fake(steps=1000, step_s=0.05))
    paths = manager.submit(startable())
    wait_for(lambda: read_status(paths).step >= 1, manager=manager)
    os.kill(manager.jobs[paths.run_id].pid, signal.SIGKILL)
    wait_for(lambda: not manager.running(), manager=manager)
    status = read_status(paths)
    assert status.state == "interrupted" and "signal (SIGKILL)" in status.error


def test_resume_continues_a_stopped_run_from_its_checkpoint(runs_root):
    manager = JobManager(runs_root, command=fake(steps=8, step_s=0.05))
    paths = manager.submit(startable())
    wait_for(lambda: read_status(paths).step >= 4, manager=manager)
    manager.stop(paths.run_id)
    wait_for(lambda: state(paths) == "stopped" and not manager.running(), manager=manager)
    manager.resume(paths.run_id)
    wait_for(lambda: state(paths) == "completed" and not manager.running(), manager=manager)
    assert (paths.root / "attempts.txt").read_text().split() == ["fresh", "resume"]
    assert read_status(paths).step == 8


def test_resume_is_refused_without_a_checkpoint_or_while_running(runs_root):
    manager = JobManager(runs_root, command=fake(steps=1000, step_s=0.05))
    paths = manager.submit(startable())
    with pytest.raises(ConfigError, match="only a stopped"):
        manager.resume(paths.run_id)
    manager.cancel(paths.run_id)
    wait_for(lambda: not manager.running(), manager=manager)
    early = RunPaths(runs_root / "failed-early")
    create_run(early, RunConfig())
    update_status(early, state="failed")
    with pytest.raises(ConfigError, match="no checkpoint"):
        manager.resume(early.run_id)
    torn = early.checkpoints / "checkpoint-5"  # a save cut short: trainer_state.json never written
    torn.mkdir(parents=True)
    (torn / "adapter_config.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"no complete checkpoint.*lacks adapter_model\.safetensors, trainer_state"):
        manager.resume(early.run_id)
    assert state(early) == "failed"  # refused before anything changed
    with pytest.raises(ConfigError, match="no run named"):
        manager.resume("../etc")


def test_recovery_marks_dead_workers_and_reattaches_live_ones(runs_root, tmp_path):
    dead, alive = RunPaths(runs_root / "dead"), RunPaths(runs_root / "alive")
    for paths in (dead, alive):
        create_run(paths, RunConfig())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    update_status(dead, state="running", pid=gone.pid)
    # A worker left by a previous server: a live process whose command line names the run folder.
    live = subprocess.Popen(
        [sys.executable, "-c", "import time, sys; time.sleep(600)", str(alive.root)], start_new_session=True
    )
    try:
        update_status(alive, state="running", pid=live.pid)
        manager = JobManager(runs_root, command=fake())
        assert manager.recover() == [dead.run_id]
        assert state(dead) == "interrupted" and "while the server was away" in read_status(dead).error
        assert manager.running() == [alive.run_id] and state(alive) == "running"
        manager.cancel(alive.run_id)
        live.wait(timeout=10)
        wait_for(lambda: not manager.running(), manager=manager)
        assert state(alive) == "cancelled"
    finally:
        live.kill()


def test_a_reused_pid_is_not_mistaken_for_the_worker(tmp_path):
    assert pid_alive(os.getpid())
    assert not pid_alive(os.getpid(), tmp_path / "some-run")  # this process is alive, but not that run's worker


def test_background_thread_starts_queued_runs_without_polling_by_hand(runs_root):
    manager = JobManager(runs_root, command=fake(steps=2), poll_s=0.05)
    manager.start_background()
    try:
        first, second = manager.submit(startable()), manager.submit(startable())
        wait_for(lambda: state(first) == state(second) == "completed")
    finally:
        manager.shutdown()


@pytest.mark.parametrize(
    "overrides,expected",
    [
        ([], "No dataset is selected"),
        (["data.path=/no/such/file.jsonl"], "does not exist"),
        (["model.name_or_path=/no/such/model"], "was not found"),
        (["training.accelerate_config=/no/such/accelerate.yaml"], "there is no file"),
    ],
)
def test_what_could_not_start_is_refused_before_a_run_folder_exists(runs_root, overrides, expected):
    """The manager checks what the CLI, the Train tab and the worker check: one launch.check_startable."""
    manager = JobManager(runs_root, command=fake())
    cfg = apply_overrides(RunConfig() if overrides == [] else startable(), overrides)
    with pytest.raises(StudioError, match=expected):
        manager.submit(cfg)
    assert not runs_root.exists() or not any(runs_root.iterdir())


def test_invalid_config_is_refused_before_a_run_folder_exists(runs_root):
    manager = JobManager(runs_root, command=fake())
    bad = RunConfig()
    bad.lora.r = 0
    with pytest.raises(ConfigError, match=r"lora\.r"):
        manager.submit(bad)
    assert not runs_root.exists() or not any(runs_root.iterdir())


def test_a_stop_pressed_while_the_worker_starts_is_honoured(runs_root):
    manager = JobManager(runs_root, command=fake(steps=1000, step_s=0.05, startup_s=1.0))
    paths = manager.submit(startable())
    assert manager.stop(paths.run_id) == "stopping"  # the worker has not written a line yet
    wait_for(lambda: not manager.running(), manager=manager)
    status = read_status(paths)
    assert status.state == "stopped" and status.step == 1


def test_a_server_restarting_while_the_worker_starts_reattaches_instead_of_starting_another(runs_root):
    first = JobManager(runs_root, command=fake(steps=3, step_s=0.05, startup_s=1.5))
    a, b = first.submit(startable(), "a"), first.submit(startable(), "b")
    second = JobManager(runs_root, command=fake(steps=3, step_s=0.05))  # the restarted server
    assert second.recover() == []
    assert second.running() == [a.run_id] and state(b) == "queued"
    assert read_status(a).pid == first.jobs[a.run_id].pid and read_status(a).pid_start
    wait_for(lambda: state(a) == "completed" and second.running() != [a.run_id], manager=second)
    wait_for(lambda: state(b) == "completed", manager=second)  # the exited (unreaped) worker freed the slot
    first.poll()  # reap the child the old server object started


def test_cancel_after_the_worker_reported_keeps_its_final_state(runs_root):
    manager = JobManager(runs_root, command=fake(steps=2, step_s=0.01, linger_s=1.0))
    paths = manager.submit(startable())
    wait_for(lambda: state(paths) == "completed")
    assert manager.running() == [paths.run_id]  # still alive, tearing down
    with pytest.raises(ConfigError, match="not running"):
        manager.cancel(paths.run_id)
    wait_for(lambda: not manager.running(), manager=manager)
    assert state(paths) == "completed"


def test_a_pid_reused_by_another_process_is_told_apart_by_its_start_time():
    from lora_studio.processes import process_start_time

    me = os.getpid()
    assert pid_alive(me, pid_start=process_start_time(me))
    assert not pid_alive(me, pid_start="1")  # same pid, another start: not the recorded worker
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    started = process_start_time(child.pid)
    time.sleep(1.5)  # exited, not yet reaped: a zombie is not a live worker
    assert not pid_alive(child.pid, pid_start=started)
    child.wait()


def test_the_poll_thread_survives_an_unexpected_error(runs_root, monkeypatch):
    manager = JobManager(runs_root, command=fake(steps=2), poll_s=0.05)
    calls = {"n": 0}
    real_poll = manager.poll

    def flaky_poll():
        if threading.current_thread() is manager._thread:
            calls["n"] += 1
            if calls["n"] == 2:
                raise TypeError("a damaged status.json")
        real_poll()

    monkeypatch.setattr(manager, "poll", flaky_poll)
    manager.start_background()
    try:
        paths = manager.submit(startable())
        wait_for(lambda: state(paths) == "completed" and calls["n"] > 4)
        assert manager._thread.is_alive()
    finally:
        manager.shutdown()


def test_status_updates_from_two_processes_lose_nothing(runs_root):
    paths = RunPaths(runs_root / "shared")
    create_run(paths, RunConfig())
    code = (
        "import sys; sys.path.insert(0, {root!r}); from lora_studio.runs import RunPaths, update_status\n"
        "p = RunPaths({run!r})\n"
        "for i in range(150): update_status(p, {field}=i if {numeric} else f'x{{i}}')"
    )
    root = str(Path(__file__).resolve().parents[2])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code.format(root=root, run=str(paths.root), field=f, numeric=f == "step")]
        )
        for f in ("step", "phase")
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    status = read_status(paths)
    assert status.step == 149 and status.phase == "x149"  # neither writer put back an older value of the other's


def _nice_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_workers_keep_their_priority_when_the_server_threads_lower_theirs(runs_root):
    from lora_studio.processes import lower_server_priority

    manager = JobManager(runs_root, command=fake(steps=200, step_s=0.05), poll_s=5.0)  # a slow tick: submit wakes it
    manager.start_background()
    seen: dict = {}

    def serve_a_page() -> None:  # what a request thread does after launch() lowered the main thread
        seen["lowered"] = lower_server_priority(5)
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        child = threading.Thread(target=lambda: seen.update(child=os.getpriority(os.PRIO_PROCESS, 0)))
        child.start()
        child.join()
        started = time.time()
        seen["paths"] = manager.submit(startable(), "niced")
        seen["submit_s"] = time.time() - started

    try:
        base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        page = threading.Thread(target=serve_a_page)
        page.start()
        page.join()
        paths = seen["paths"]
        assert seen["lowered"] and seen["nice"] == min(base + 5, 19) and seen["child"] == seen["nice"]
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # other threads untouched
        assert state(paths) == "running" and seen["submit_s"] < 2.0  # started by the woken job thread, at once
        pid = read_status(paths).pid
        assert _nice_of(pid) == base  # the worker got the job thread's priority, not the page's
        manager.cancel(paths.run_id)
        wait_for(lambda: state(paths) == "cancelled" and not manager.running())
    finally:
        manager.shutdown()


def test_a_worker_the_system_refuses_to_start_fails_the_run_in_words(runs_root, tmp_path):
    manager = JobManager(runs_root, command=lambda paths, resume: [str(tmp_path / "no-such-python")])
    paths = manager.submit(startable())
    status = read_status(paths)
    assert status.state == "failed" and not manager.running()
    assert "Could not start the worker" in status.error and status.error.endswith("for the training")
    assert "make setup" in status.hint and status.finished is not None
