"""A real worker process trains the tiny model through JobManager: live rows, stop-and-save, resume."""

from __future__ import annotations

import time

from peft import PeftModel
from transformers import AutoModelForCausalLM

from lora_studio.jobs import JobManager
from lora_studio.metrics import MetricsReader
from lora_studio.processes import group_alive
from lora_studio.runs import read_status
from tests.integration.helpers import tiny_config


def wait_for(manager: JobManager, predicate, timeout: float = 180.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        manager.poll()
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_stop_saves_a_loadable_adapter_and_resume_continues_from_the_checkpoint(tmp_path, tiny_model_dir, chat_file):
    manager = JobManager(tmp_path / "runs")
    cfg = tiny_config(
        tiny_model_dir, chat_file, "training.max_steps=400", "training.save_steps=4", "training.sample_every_save=false"
    )
    paths = manager.submit(cfg, "stop-resume")
    reader, seen = MetricsReader(paths.metrics), []

    def progressed() -> bool:
        seen.extend(reader.read_new())
        return len(seen) >= 6

    wait_for(manager, progressed)  # rows arrive while the worker runs, not at the end
    assert read_status(paths).state == "running"
    pid = manager.jobs[paths.run_id].pid
    manager.stop(paths.run_id)
    wait_for(manager, lambda: not manager.running())
    status = read_status(paths)
    assert status.state == "stopped", status
    assert 6 <= status.step < 400 and not group_alive(pid)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    PeftModel.from_pretrained(base, paths.adapter)  # the stopped run's adapter loads with plain peft

    checkpoint_step = max(int(p.name.split("-")[1]) for p in paths.checkpoints.glob("checkpoint-*"))
    assert checkpoint_step == status.step  # stop-and-save wrote a checkpoint at the step it stopped
    size_before = paths.metrics.stat().st_size
    manager.resume(paths.run_id)
    wait_for(manager, lambda: read_status(paths).state == "running" and read_status(paths).step > checkpoint_step)
    manager.stop(paths.run_id)
    wait_for(manager, lambda: not manager.running())
    resumed = MetricsReader(paths.metrics, size_before).read_new()
    assert resumed and resumed[0].step == checkpoint_step + 1  # continued, not restarted from step 1
    assert read_status(paths).state == "stopped"
    assert "(resume)" in paths.log.read_text()


def test_stop_pressed_before_the_worker_got_going_still_stops_and_saves(tmp_path, tiny_model_dir, chat_file):
    manager = JobManager(tmp_path / "runs")
    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=400", "training.sample_every_save=false")
    paths = manager.submit(cfg, "early-stop")
    assert manager.stop(paths.run_id) == "stopping"  # the worker is still importing torch
    wait_for(manager, lambda: not manager.running())
    status = read_status(paths)
    assert status.state == "stopped" and status.step == 1 and (paths.adapter / "adapter_config.json").exists()
