"""JobManager when a fault lands mid-cancel, with the fake worker (real processes: tests/integration/test_faults.py)."""

from __future__ import annotations

from lora_studio.config import RunConfig
from lora_studio.jobs import JobManager
from lora_studio.processes import group_alive
from lora_studio.runs import read_status
from tests.unit.test_jobs import fake, wait_for


def test_a_cancel_that_breaks_the_worker_mid_import_still_ends_cancelled(tmp_path):
    # Seen for real: SIGTERM while the worker imported numpy left a broken import, and the worker reported a
    # 'failed' RuntimeError about trl instead of the cancel the user asked for.
    manager = JobManager(tmp_path / "runs", command=fake(steps=1000, step_s=0.05, term_fails=True))
    paths = manager.submit(RunConfig())
    wait_for(lambda: read_status(paths).step >= 1, manager=manager)
    pid = manager.jobs[paths.run_id].pid
    assert manager.cancel(paths.run_id) == "cancelling"
    wait_for(lambda: not manager.running(), manager=manager)
    status = read_status(paths)
    assert status.state == "cancelled" and status.error == "Cancelled by the user", status
    assert not group_alive(pid)
