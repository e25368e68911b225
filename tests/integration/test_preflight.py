"""engine.preflight on a real (tiny) model, and the speed measurement subprocess end to end."""

from __future__ import annotations

import sys
import time

import pytest

from lora_studio import calibration
from lora_studio.config import RunConfig
from lora_studio.engine import preflight
from lora_studio.engine.models import load_for_training
from lora_studio.engine.train import build_peft_model
from tests.integration.helpers import tiny_config

LLAMA_LINEAR = ("down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj")


def test_linear_layers_come_from_the_model_without_weights(tiny_model_dir):
    assert preflight.linear_module_names(str(tiny_model_dir)) == LLAMA_LINEAR  # lm_head left out


@pytest.mark.parametrize("targets", ["all-linear", "lora.target_modules=[q_proj, v_proj]"])
def test_trainable_parameters_match_what_peft_reports_on_the_loaded_model(tiny_model_dir, chat_file, targets):
    overrides = [] if targets == "all-linear" else [targets]
    cfg = tiny_config(tiny_model_dir, chat_file, "lora.r=8", *overrides)
    facts, issues = preflight.check(cfg)
    model, *_ = load_for_training(cfg.model)
    trainable, total = build_peft_model(model, cfg).get_nb_trainable_parameters()
    assert issues == [] and (facts.trainable_params, facts.all_params) == (trainable, total)
    assert (facts.hidden_size, facts.num_layers, facts.device, facts.dtype_bytes) == (64, 2, "cpu", 4)
    assert 0 < facts.quantizable_params < facts.base_params


def test_rank_changes_the_count(tiny_model_dir, chat_file):
    small, _ = preflight.check(tiny_config(tiny_model_dir, chat_file, "lora.r=4"))
    large, _ = preflight.check(tiny_config(tiny_model_dir, chat_file, "lora.r=8"))
    assert large.trainable_params == 2 * small.trainable_params


def test_problems_only_the_model_can_tell(tiny_model_dir, chat_file, tmp_path):
    facts, issues = preflight.check(tiny_config(tiny_model_dir, chat_file, "lora.target_modules=[q_proj, qkv]"))
    assert facts is None and [i.field for i in issues] == ["lora.target_modules"]
    assert "qkv: no such layer" in issues[0].message and "q_proj" in issues[0].message
    facts, issues = preflight.check(tiny_config(tmp_path / "no-model-here", chat_file))
    assert facts is None and [i.field for i in issues] == ["model.name_or_path"]


def test_eight_bit_is_checked_by_running_bitsandbytes_once(tiny_model_dir, chat_file, monkeypatch):
    preflight.bitsandbytes_status.cache_clear()
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import fails as on a machine without a build
    try:
        usable, why = preflight.bitsandbytes_status()
        assert not usable and "cannot be imported" in why
        monkeypatch.delitem(sys.modules, "bitsandbytes")
        assert preflight.bitsandbytes_status() == (usable, why)  # cached: probed once
        _, issues = preflight.check(tiny_config(tiny_model_dir, chat_file, "model.load_in_8bit=true"))
        assert [i.field for i in issues] == ["model.load_in_8bit"] and "not usable on this machine" in issues[0].message
        _, plain = preflight.check(tiny_config(tiny_model_dir, chat_file))
        assert plain == []
    finally:
        preflight.bitsandbytes_status.cache_clear()


def _wait(job: calibration.CalibrationJob, timeout: float = 240) -> calibration.CalibrationStatus:
    deadline = time.time() + timeout
    while time.time() < deadline:
        outcome = calibration.poll_calibration(job)
        if outcome.state != "running":
            return outcome
        time.sleep(0.5)
    raise AssertionError(f"measurement still running; log:\n{calibration.log_tail(job.log, 30)}")


def test_measure_speed_in_a_subprocess_and_cache_it(tiny_model_dir, chat_file):
    """A few batches, whatever the accumulation: the step's time is the batch's x the accumulation."""
    cfg = tiny_config(tiny_model_dir, chat_file, "training.batch_size=2", "training.gradient_accumulation=50")
    job = calibration.start_calibration(cfg, warmup=1, steps=2)
    assert calibration.running_job() is not None or job.result.exists()
    outcome = _wait(job)
    assert outcome.state == "completed", outcome.message
    assert outcome.result["sec_per_step"] > 0 and outcome.result["tokens_per_sec"] > 0
    cached = calibration.lookup(calibration.key_for(cfg, preflight.device_label()))
    assert cached is not None and cached.sec_per_step == pytest.approx(outcome.result["sec_per_step"])
    assert cached.flops > 0
    assert not (job.config.parent / "checkpoints").exists()
    log = job.log.read_text(encoding="utf-8")
    assert "timing 2 batches after 1 warm-up batches" in log  # not 150 batches


def test_a_measurement_that_cannot_run_says_why(tiny_model_dir, tmp_path):
    cfg = tiny_config(tiny_model_dir, tmp_path / "gone.jsonl")
    outcome = _wait(calibration.start_calibration(cfg, warmup=1, steps=1))
    assert outcome.state == "failed" and "gone.jsonl" in outcome.message
    saved = next(calibration.calibrations_dir().glob("*/config.yaml"))
    assert RunConfig.load(saved).data.path.endswith("gone.jsonl")
