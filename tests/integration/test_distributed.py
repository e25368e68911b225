"""Two CPU processes train one run through accelerate launch, started by JobManager as the dashboard does:
both ranks step, rank 0 alone writes, the adapter loads with plain peft, stop and cancel reach every rank."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from peft import PeftModel
from transformers import AutoModelForCausalLM

from lora_studio.dataset_rows import load_dataset_file
from lora_studio.jobs import JobManager
from lora_studio.metrics import MetricsReader, read_all
from lora_studio.processes import group_alive, process_start_time, worker_env
from lora_studio.runs import read_status
from tests.integration.helpers import tiny_config
from tests.integration.test_jobs_training import wait_for

BATCH = 4


def two_process_config(model_dir: Path, data: Path, *overrides: str):
    return tiny_config(
        model_dir,
        data,
        "training.num_processes=2",
        f"training.batch_size={BATCH}",
        "training.sample_every_save=false",
        *overrides,
    )


def processes_naming(root: Path) -> list[int]:
    """Live processes whose command line names the run folder: the launcher and every rank do."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parts = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # it exited while we looked
        if str(root).encode() in parts and process_start_time(int(proc.name)) is not None:  # zombies have ended
            found.append(int(proc.name))
    return found


def assert_nothing_left(root: Path, launcher_pid: int) -> None:
    deadline = time.time() + 5  # a rank killed with its launcher may take a moment to go
    while processes_naming(root) and time.time() < deadline:
        time.sleep(0.1)
    assert processes_naming(root) == [] and not group_alive(launcher_pid)


def test_both_ranks_train_rank_0_alone_writes_and_stop_saves_on_every_rank(tmp_path, tiny_model_dir, chat_file):
    manager = JobManager(tmp_path / "runs")
    cfg = two_process_config(tiny_model_dir, chat_file, "training.max_steps=400", "training.save_steps=1000")
    paths = manager.submit(cfg, "ddp")
    launcher = manager.jobs[paths.run_id].pid
    reader, seen = MetricsReader(paths.metrics), []

    def progressed() -> bool:
        seen.extend(reader.read_new())
        return len(seen) >= 3

    wait_for(manager, progressed)
    manager.stop(paths.run_id)
    wait_for(manager, lambda: not manager.running())
    status = read_status(paths)
    assert status.state == "stopped" and 3 <= status.step < 400, status
    assert status.pid == launcher  # the pid a restarted server checks is the launcher's: its end is the run's end

    log_text = paths.log.read_text()
    assert "[rank 1] rank 1 of 2 started" in log_text
    # Rank 1 ran the steps itself and stopped at rank 0's step: a rank left alone would hang DDP.
    assert f"[rank 1] rank 1 of 2: stopped at step {status.step}/400" in log_text
    assert f"[rank 0] step {status.step:>3}/400" in log_text and "[rank 1] step" not in log_text
    rows = [r for r in read_all(paths.metrics) if r.event == "log"]
    assert [r.step for r in rows] == list(range(1, status.step + 1))  # rank 0 only: one row per step
    # Each step took a batch on each rank: an epoch lasts half the steps it takes one process.
    n_rows = len(load_dataset_file(str(chat_file)).rows)
    assert rows[0].epoch == pytest.approx(2 * BATCH / n_rows, rel=0.01)

    assert (paths.checkpoints / f"checkpoint-{status.step}").is_dir()  # the stop saved a resumable checkpoint
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    PeftModel.from_pretrained(base, paths.adapter)  # a standard adapter, written once, by rank 0
    assert not (paths.root / ".adapter.tmp").exists()
    assert_nothing_left(paths.root, launcher)


def test_a_restarted_server_reattaches_to_the_launcher_and_cancel_ends_every_rank(tmp_path, tiny_model_dir, chat_file):
    first = JobManager(tmp_path / "runs")
    paths = first.submit(two_process_config(tiny_model_dir, chat_file, "training.max_steps=400"), "ddp-cancel")
    launcher = first.jobs[paths.run_id].pid
    wait_for(first, lambda: read_status(paths).step >= 2)
    second = JobManager(tmp_path / "runs")  # the server restarted: it knows the run only from status.json
    assert second.recover() == [] and second.running() == [paths.run_id]
    assert second.jobs[paths.run_id].pid == launcher
    assert len(processes_naming(paths.root)) >= 3  # the launcher and two ranks
    second.cancel(paths.run_id)
    wait_for(second, lambda: not second.running())  # the launcher passed SIGTERM on to both ranks
    first.poll()  # reap the launcher the old server object started
    assert read_status(paths).state == "cancelled"
    assert_nothing_left(paths.root, launcher)


RANK_SCRIPT = """
import os, sys, time
from lora_studio.engine import distributed
distributed.die_with_launcher()
with open(os.path.join(sys.argv[1], f"rank-{distributed.rank()}.pid"), "w") as f:
    f.write(str(os.getpid()))
time.sleep(600)
"""


def test_ranks_die_with_their_launcher_even_when_it_is_killed(tmp_path):
    # torch's launcher puts each rank in a session of its own: a signal to its group misses them, and a
    # launcher killed after a cancel's grace period would leave them running without this.
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT, encoding="utf-8")
    launcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(script),
            str(tmp_path),
        ],
        env=worker_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_files = [tmp_path / "rank-0.pid", tmp_path / "rank-1.pid"]
    ranks: list[int] = []
    try:
        deadline = time.time() + 60
        while not all(f.exists() and f.read_text() for f in pid_files) and time.time() < deadline:
            time.sleep(0.1)
        ranks = [int(f.read_text()) for f in pid_files]
        assert all(process_start_time(pid) for pid in ranks) and launcher.pid not in ranks
        os.killpg(launcher.pid, signal.SIGKILL)
        launcher.wait(timeout=10)
        deadline = time.time() + 5
        while any(process_start_time(pid) for pid in ranks) and time.time() < deadline:
            time.sleep(0.1)
        assert not any(process_start_time(pid) for pid in ranks)
    finally:
        launcher.kill()
        for pid in ranks:
            if process_start_time(pid):
                os.kill(pid, signal.SIGKILL)
