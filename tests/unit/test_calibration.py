"""The calibration cache (keys, record/lookup, a damaged file) and polling a measurement's folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from lora_studio import calibration, processes
from lora_studio.calibration import CalibrationJob, key_for, lookup, poll_calibration, record
from lora_studio.config import RunConfig, apply_overrides


def test_record_then_lookup_under_studio_home(studio_home):
    key = key_for(RunConfig(), "cpu")
    assert lookup(key) is None
    before = time.time()
    stored = record(key, 2.5, 120.0)
    found = lookup(key)
    assert (found.sec_per_step, found.tokens_per_sec, found.source) == (2.5, 120.0, "measured")
    assert found.measured_at >= before and stored.sec_per_step == 2.5
    assert calibration.cache_path() == studio_home / "calibration.json"
    record(key, 2.0, 150.0, source="training")  # the newest replaces the older
    assert (lookup(key).sec_per_step, lookup(key).source) == (2.0, "training")


def test_key_holds_what_changes_the_step_time():
    base = RunConfig()
    key = key_for(base, "cpu")
    for change in (
        "lora.r=16",
        "training.batch_size=8",
        "data.max_length=1024",
        "model.load_in_8bit=true",
        "training.gradient_checkpointing=true",
        "training.gradient_accumulation=4",
        "model.dtype=float16",
        "lora.target_modules=[q_proj]",
        "model.name_or_path=owner/other",
        "training.padding_free=never",
        "lora.dropout=0",  # on or off: compiled steps with dropout were slower here, without faster
    ):
        assert key_for(apply_overrides(base, [change]), "cpu") != key, change
    assert key_for(base, "cuda:NVIDIA H100") != key
    assert key_for(base, "cpu", compiled=True) != key
    # Settings that do not change the work per step share one measurement.
    assert key_for(apply_overrides(base, ["training.learning_rate=0.01", "lora.dropout=0.2"]), "cpu") == key
    a = key_for(apply_overrides(base, ["lora.target_modules=[v_proj, q_proj]"]), "cpu")
    b = key_for(apply_overrides(base, ["lora.target_modules=[q_proj, v_proj]"]), "cpu")
    assert a == b


def test_the_machines_pace_is_the_median_of_its_measured_speeds_alike_in_quantization(studio_home):
    def key(*overrides: str, device: str = "cpu"):
        return key_for(apply_overrides(RunConfig(), list(overrides)), device)

    assert calibration.machine_flops("cpu", "") is None  # nothing measured: the estimate keeps its assumption
    record(key("lora.r=4"), 2.0, 100.0, flops=3e10)
    record(key("lora.r=8"), 2.0, 100.0, flops=5e10)
    record(key("lora.r=16"), 2.0, 100.0, flops=4.2e10)
    record(key("lora.r=32"), 2.0, 100.0)  # size unknown: no pace
    record(key("lora.r=4", device="cuda:NVIDIA H100"), 0.1, 9000.0, flops=2e13)  # another device
    record(key("model.load_in_8bit=true"), 9.0, 20.0, flops=6e9)
    assert calibration.machine_flops("cpu", "") == (4.2e10, 3)
    assert calibration.machine_flops("cpu", "8-bit") == (6e9, 1)  # 8-bit runs at its own pace
    assert calibration.machine_flops("cpu", "4-bit") == (3.6e10, 4)  # none alike: every speed of the machine
    assert calibration.machine_flops("cuda:NVIDIA H100", "") == (2e13, 1)


def test_a_damaged_cache_is_ignored_and_replaced(studio_home):
    studio_home.mkdir(parents=True, exist_ok=True)
    calibration.cache_path().write_text("{not json", encoding="utf-8")
    key = key_for(RunConfig(), "cpu")
    assert lookup(key) is None
    record(key, 1.0, 10.0)
    assert json.loads(calibration.cache_path().read_text())["version"] == calibration.CACHE_VERSION
    assert lookup(key).sec_per_step == 1.0


def test_record_refuses_a_speed_that_is_not_positive():
    with pytest.raises(ValueError):
        record(key_for(RunConfig(), "cpu"), 0.0, 10.0)


def _finished_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_polling_a_finished_measurement(tmp_path):
    job = CalibrationJob(str(tmp_path), _finished_pid(), time.time())
    job.log.write_text("loading model\nTraceback ...\nRuntimeError: boom\n", encoding="utf-8")
    failed = poll_calibration(job)
    assert failed.state == "failed" and "without a result" in failed.message and "boom" in failed.message
    job.result.write_text(json.dumps({"error": "No training data in the config", "hint": "Choose a dataset"}))
    refused = poll_calibration(job)
    assert refused.state == "failed" and "No training data" in refused.message and "Choose a dataset" in refused.message
    job.result.write_text(json.dumps({"sec_per_step": 1.5, "tokens_per_sec": 99.0, "device": "cpu"}))
    done = poll_calibration(job)
    assert done.state == "completed" and done.result["sec_per_step"] == 1.5


def test_a_live_process_without_result_is_running(tmp_path):
    # Its argv names the measurement's folder, as the real one's does (--config FOLDER/config.yaml).
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", str(tmp_path / "config.yaml")])
    try:
        assert poll_calibration(CalibrationJob(str(tmp_path), proc.pid, time.time())).state == "running"
        started = processes.process_start_time(proc.pid)
        assert poll_calibration(CalibrationJob(str(tmp_path), proc.pid, time.time(), started)).state == "running"
    finally:
        proc.kill()
        proc.wait()


def test_a_reused_pid_is_not_the_measurement(tmp_path):
    """A server reloaded long after: the pid the page kept now belongs to another process (here: this one)."""
    job = CalibrationJob(str(tmp_path), os.getpid(), time.time(), pid_start="1")
    assert poll_calibration(job).state == "failed"
    unnamed = CalibrationJob(str(tmp_path), os.getpid(), time.time())  # no start time kept: its argv must name it
    assert poll_calibration(unnamed).state == "failed"
