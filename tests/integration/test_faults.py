"""Faults provoked for real on the tiny model, through JobManager and real worker processes.

A SIGKILL mid-step, a memory limit the step cannot fit in, a file-size limit (a write fails as on a
full disk), checkpoint files deleted after the fact, and torn run files. Each run ends in a state
that says what happened and what to do, and what was saved before the fault still loads and resumes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from lora_studio import settings
from lora_studio.engine.worker import classify
from lora_studio.errors import ConfigError
from lora_studio.jobs import JobManager
from lora_studio.launch import WorkerCommand, worker_command
from lora_studio.messages import speaking
from lora_studio.metrics import MetricsReader, read_all
from lora_studio.processes import group_alive
from lora_studio.runs import RunPaths, missing_checkpoint_files, read_status, resumable_checkpoint
from lora_studio.ui import runs_tab
from lora_studio.ui.runs_tab import OUTPUTS, SELECTION_OUTPUTS
from tests.conftest import write_jsonl
from tests.integration.helpers import tiny_config
from tests.integration.test_jobs_training import wait_for

LONG_RUN = ("training.max_steps=400", "training.save_steps=3", "training.sample_every_save=false")


def limited(resource_name: str, limit: int) -> WorkerCommand:
    """The real worker command under a resource limit: a tiny Python sets it, then execs the worker in its place
    (same pid, same argv as JobManager gives it), so the limit holds for the worker and nothing else."""
    code = (
        f"import os, resource, sys; resource.setrlimit(resource.{resource_name}, ({limit}, {limit})); "
        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    )

    def command(paths: RunPaths, resume: bool) -> list[str]:
        python, *args = worker_command(paths, resume)
        return [python, "-c", code, *args]

    return command


def train_then_stop(manager: JobManager, cfg, name: str) -> RunPaths:
    """A stopped run with two complete checkpoints: checkpoint-3 and the one stop-and-save wrote."""
    paths = manager.submit(cfg, name)
    wait_for(manager, lambda: read_status(paths).step >= 4)  # checkpoint-3 is complete once step 4 is logged
    manager.stop(paths.run_id)
    wait_for(manager, lambda: not manager.running())
    assert read_status(paths).state == "stopped", read_status(paths)
    return paths


def checkpoint_steps(paths: RunPaths) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in paths.checkpoints.glob("checkpoint-*"))


def fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def resume_and_check_first_step(manager: JobManager, paths: RunPaths, expected_step: int) -> None:
    """Resume, see the first new metrics row at `expected_step`, then stop and save again."""
    size_before = paths.metrics.stat().st_size
    manager.resume(paths.run_id)
    reader, rows = MetricsReader(paths.metrics, size_before), []
    wait_for(manager, lambda: rows.extend(reader.read_new()) or len(rows) >= 2)
    manager.stop(paths.run_id)
    wait_for(manager, lambda: not manager.running())
    assert rows[0].step == expected_step, [r.step for r in rows]  # continued, not restarted at step 1
    assert read_status(paths).state == "stopped"


@pytest.mark.parametrize(
    "exc,kind,words",
    [
        # torch's CPU allocator under a memory limit (seen in the out-of-memory test below)
        (
            RuntimeError(
                "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                "tried to allocate 536870912 bytes. Error code 12 (Cannot allocate memory)"
            ),
            "out_of_memory",
            "512 MiB",
        ),
        (RuntimeError("std::bad_alloc"), "out_of_memory", "out of memory"),
        # tokenizers and safetensors (Rust) report a failed write in words only
        (Exception("File too large (os error 27)"), "disk", "size limit"),
        (Exception("No space left on device (os error 28)"), "disk", "disk is full"),
        (
            RuntimeError(
                "[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file "
                "data/0: file write failed"
            ),
            "disk",
            "could not be written",
        ),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk", "quota"),
        (OSError(errno.EROFS, "Read-only file system"), "disk", "read-only"),
    ],
)
def test_the_real_messages_of_memory_and_disk_failures_are_classified(exc, kind, words):
    got_kind, message, hint = classify(exc)
    assert got_kind == kind and words in message, message
    assert ("batch_size" in hint) if kind == "out_of_memory" else ("disk" in message and "Resume" in hint)


def test_a_worker_killed_mid_step_is_interrupted_at_once_and_resumes_from_its_last_checkpoint(
    tmp_path, tiny_model_dir, chat_file
):
    manager = JobManager(tmp_path / "runs")
    paths = manager.submit(tiny_config(tiny_model_dir, chat_file, *LONG_RUN), "killed")
    wait_for(manager, lambda: read_status(paths).step >= 4)
    pid = manager.jobs[paths.run_id].pid
    os.kill(pid, signal.SIGKILL)  # the worker alone, in the middle of a step: no handler, no last words
    killed_at = time.time()
    wait_for(manager, lambda: read_status(paths).state == "interrupted", timeout=5)
    assert time.time() - killed_at < 5
    status = read_status(paths)
    assert status.error_kind == "killed" and "signal (SIGKILL)" in status.error and "Resume" in status.hint
    assert not group_alive(pid)

    checkpoint = resumable_checkpoint(paths)
    assert checkpoint is not None and int(checkpoint.name.split("-")[1]) >= 3
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    complete = [
        s for s in checkpoint_steps(paths) if not missing_checkpoint_files(paths.checkpoints / f"checkpoint-{s}")
    ]
    # Only a save the kill cut short could be incomplete; resume takes the newest complete one.
    assert complete and checkpoint.name == f"checkpoint-{complete[-1]}"
    for step in complete:  # everything saved before the kill still loads
        folder = paths.checkpoints / f"checkpoint-{step}"
        PeftModel.from_pretrained(base, folder)
        torch.load(folder / "optimizer.pt", weights_only=True)
        assert json.loads((folder / "trainer_state.json").read_text())["global_step"] == step
    resume_and_check_first_step(manager, paths, int(checkpoint.name.split("-")[1]) + 1)


def test_out_of_memory_fails_in_words_naming_what_to_lower_and_leaves_no_process(tmp_path, tiny_model_dir):
    # 64 long rows in one batch need gigabytes of activations; the worker may use 3 GiB. RLIMIT_DATA counts
    # what a process really allocates (RLIMIT_AS would also count the address space libraries only reserve).
    story = " ".join(["the river runs past the mountain and the weather turns cold in the valley"] * 80)
    data = write_jsonl(
        tmp_path / "long.jsonl",
        [
            {"messages": [{"role": "user", "content": f"Tell story {i}"}, {"role": "assistant", "content": story}]}
            for i in range(64)
        ],
    )
    manager = JobManager(tmp_path / "runs", command=limited("RLIMIT_DATA", 3 * 2**30))
    cfg = tiny_config(
        tiny_model_dir, data, "training.batch_size=64", "data.max_length=1024", "training.sample_every_save=false"
    )
    paths = manager.submit(cfg, "oom")
    job = manager.jobs[paths.run_id]
    wait_for(manager, lambda: not manager.running(), timeout=240)  # it ends by itself: no hang
    status = read_status(paths)
    assert status.state == "failed" and status.error_kind == "out_of_memory", status
    assert "out of memory" in status.error and "MiB" in status.error
    assert all(
        name in status.hint for name in ("training.batch_size", "data.max_length", "training.gradient_checkpointing")
    )
    with speaking("ja"):  # the worker wrote English; a Japanese page says it again in Japanese
        assert status.error_words().startswith("学習中にメモリが足りなくなりました") and "MiB" in status.error_words()
        assert "training.batch_size" in status.hint_words() and "小さく" in status.hint_words()
    assert job.worker.returncode == 1  # it reported and exited; poll() reaped it
    assert not Path(f"/proc/{job.pid}").exists() and not group_alive(job.pid)  # no zombie, no stray child
    assert "Training failed: Training ran out of memory" in paths.log.read_text()


def test_a_full_disk_fails_in_words_keeps_the_earlier_checkpoints_and_resume_skips_the_torn_one(
    tmp_path, tiny_model_dir, chat_file
):
    manager = JobManager(tmp_path / "runs")
    paths = train_then_stop(manager, tiny_config(tiny_model_dir, chat_file, *LONG_RUN), "disk")
    saved = checkpoint_steps(paths)
    # The checkpoint folders; TRL's model card beside them (checkpoints/README.md) is rewritten by any save.
    before = {k: v for k, v in fingerprint(paths.checkpoints).items() if k.startswith("checkpoint-")}
    # Each checkpoint holds the 3.5 MB tokenizer.json: with files capped at 1 MB its write fails (EFBIG, the
    # way a full disk fails it with ENOSPC) after part of the checkpoint is on disk.
    manager.command = limited("RLIMIT_FSIZE", 2**20)
    manager.resume(paths.run_id)
    wait_for(manager, lambda: not manager.running() and read_status(paths).state == "failed")
    status = read_status(paths)
    assert status.error_kind == "disk" and "disk" in status.error and "File too large" in status.error, status
    assert "Free some space" in status.hint and "Resume" in status.hint
    torn = [s for s in checkpoint_steps(paths) if s not in saved]
    assert torn and not (paths.checkpoints / f"checkpoint-{torn[0]}" / "trainer_state.json").exists()
    after = fingerprint(paths.checkpoints)
    assert {name: after.get(name) for name in before} == before  # earlier checkpoints untouched

    manager.command = worker_command  # space again: resume skips the torn save and continues the last good one
    resume_and_check_first_step(manager, paths, saved[-1] + 1)
    assert f"checkpoint-{torn[0]} lacks trainer_state.json" in paths.log.read_text()


def test_checkpoints_that_lost_files_and_torn_run_files_are_explained_not_crashed_on(tiny_model_dir, chat_file):
    manager = JobManager(settings.runs_dir())  # where the Runs tab looks
    paths = train_then_stop(manager, tiny_config(tiny_model_dir, chat_file, *LONG_RUN), "lost")
    for folder in paths.checkpoints.glob("checkpoint-*"):
        (folder / "adapter_model.safetensors").unlink()
    with pytest.raises(ConfigError) as refused:  # refused at once, in words, before a worker starts
        manager.resume(paths.run_id)
    assert "no complete checkpoint" in str(refused.value) and "lacks adapter_model.safetensors" in str(refused.value)
    assert "Start a new run" in refused.value.hint
    assert read_status(paths).state == "stopped" and not manager.running()

    corrupt = RunPaths(Path(shutil.copytree(paths.root, paths.root.with_name(f"{paths.run_id}-corrupt"))))
    corrupt.status.write_text('{"state": "runn', encoding="utf-8")
    rows = [r.step for r in read_all(paths.metrics) if r.event == "log"]
    with paths.metrics.open("a", encoding="utf-8") as fh:
        fh.write('{"event": "log", "step": 99, "lo')  # a row cut off by a crash mid-write
    listed = dict(zip(OUTPUTS, runs_tab.on_refresh(None), strict=True))
    assert set(listed["table"]["run"]) == {paths.run_id, corrupt.run_id}
    shown = dict(zip(SELECTION_OUTPUTS, runs_tab.on_select([paths.run_id]), strict=True))
    assert "Cannot resume" in shown["details"] and "lacks adapter_model.safetensors" in shown["details"]
    assert "Start a new run" in shown["details"]
    loss = next(t for t in shown["plot"]["value"].data if t.name == "loss")
    assert sorted(set(loss.x)) == sorted(set(rows))  # every complete row drawn, the torn one left out
    shown = dict(zip(SELECTION_OUTPUTS, runs_tab.on_select([corrupt.run_id]), strict=True))
    assert "status.json is unreadable" in shown["details"]
