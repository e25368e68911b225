"""JobManager when a fault lands mid-cancel, with the fake worker (real processes: tests/integration/test_faults.py)."""

from __future__ import annotations

from lora_studio import processes
from lora_studio.jobs import JobManager
from lora_studio.processes import group_alive
from lora_studio.runs import read_status
from tests.unit.test_jobs import fake, startable, wait_for


def test_a_cancel_that_breaks_the_worker_mid_import_still_ends_cancelled(tmp_path):
    # Seen for real: SIGTERM while the worker imported numpy left a broken import, and the worker reported a
    # 'failed' RuntimeError about trl instead of the cancel the user asked for.
    manager = JobManager(tmp_path / "runs", command=fake(steps=1000, step_s=0.05, term_fails=True))
    paths = manager.submit(startable())
    wait_for(lambda: read_status(paths).step >= 1, manager=manager)
    pid = manager.jobs[paths.run_id].pid
    assert manager.cancel(paths.run_id) == "cancelling"
    wait_for(lambda: not manager.running(), manager=manager)
    status = read_status(paths)
    assert status.state == "cancelled" and status.error == "Cancelled by the user", status
    assert not group_alive(pid)


def _killed_status(tmp_path, monkeypatch, kills: list[int]):
    import os
    import signal

    counts = iter(kills)
    monkeypatch.setattr(processes, "oom_kills", lambda: next(counts))
    manager = JobManager(tmp_path / "runs", command=fake(steps=1000, step_s=0.05))
    paths = manager.submit(startable())
    wait_for(lambda: read_status(paths).step >= 1, manager=manager)
    os.kill(manager.jobs[paths.run_id].pid, signal.SIGKILL)  # as `kill -9` would
    wait_for(lambda: not manager.running(), manager=manager)
    return read_status(paths)


def test_a_kill_9_says_stopped_by_a_signal_not_out_of_memory(tmp_path, monkeypatch):
    status = _killed_status(tmp_path, monkeypatch, [3, 3])  # the kernel killed nothing while it ran
    assert status.state == "interrupted" and status.error_kind == "killed", status
    assert "stopped by a signal (SIGKILL)" in status.error
    assert "memory" not in status.error + status.hint and "Resume" in status.hint


def test_a_kill_while_the_kernel_counted_an_oom_kill_says_out_of_memory(tmp_path, monkeypatch):
    status = _killed_status(tmp_path, monkeypatch, [3, 4])
    assert status.error_kind == "out_of_memory" and "ran out of memory" in status.error, status
    assert "batch_size" in status.hint


def test_the_oom_counter_is_read_from_the_memory_cgroup(tmp_path, monkeypatch):
    from lora_studio import processes

    events = tmp_path / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 2\noom 1\noom_kill 7\n")
    monkeypatch.setattr(processes, "OOM_COUNTERS", (str(tmp_path / "missing"), str(events)))
    assert processes.oom_kills() == 7
    monkeypatch.setattr(processes, "OOM_COUNTERS", (str(tmp_path / "missing"),))
    assert processes.oom_kills() is None
