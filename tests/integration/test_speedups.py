"""The speed-ups keep the loss (engine/speedups.py): batches without padding train the same adapter as padded
batches, on the tiny model, and torch.compile's auto mode follows the speeds kept in the calibration cache."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from lora_studio import calibration
from lora_studio.engine import speedups
from lora_studio.engine.preflight import device_label
from lora_studio.engine.speedups import compile_for
from lora_studio.engine.train import train
from lora_studio.engine.worker import _record_speed
from lora_studio.metrics import MetricRow, append_row, read_all
from tests.conftest import write_jsonl
from tests.integration.helpers import new_run, tiny_config


@pytest.fixture
def wide_file(tmp_path, chat_file):
    """Rows of very different lengths: a padded batch of these is mostly filler."""
    rows = [json.loads(line) for line in chat_file.read_text(encoding="utf-8").splitlines()]
    for i, row in enumerate(rows):
        if i % 3 == 0:
            answer = row["messages"][-1]
            answer["content"] = " ".join([answer["content"]] * 6)
    return write_jsonl(tmp_path / "wide.jsonl", rows)


def _run(tmp_path, tiny_model_dir, data, name, *overrides):
    cfg = tiny_config(
        tiny_model_dir,
        data,
        "training.max_steps=5",
        "data.eval_fraction=0.2",
        "training.eval_steps=5",
        "training.compile=never",
        *overrides,
    )
    paths = new_run(tmp_path, cfg, name)
    result = train(cfg, paths)
    rows = read_all(paths.metrics)
    return result, [r for r in rows if r.event == "log"], [r for r in rows if r.event == "eval"]


def test_batches_without_padding_train_the_same_adapter(tmp_path, tiny_model_dir, wide_file, caplog, monkeypatch):
    collators = []
    switch = speedups.use_padding_free
    monkeypatch.setattr(
        speedups,
        "use_padding_free",
        lambda trainer, cost: (switch(trainer, cost), collators.append(trainer.data_collator)),
    )
    with caplog.at_level(logging.INFO, logger="lora_studio.engine"):
        free, free_logs, free_evals = _run(tmp_path, tiny_model_dir, wide_file, "free")
    assert "batches without padding: on" in caplog.text
    assert isinstance(collators[0], speedups.LeastWorkCollator)
    batch = collators[0]([{"input_ids": [5, 6, 7]}, {"input_ids": [8, 9]}])  # one row, no pad
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9]] and batch["position_ids"].tolist() == [[0, 1, 2, 0, 1]]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lora_studio.engine"):
        padded, padded_logs, padded_evals = _run(
            tmp_path, tiny_model_dir, wide_file, "padded", "training.padding_free=never"
        )
    assert "batches without padding: off (turned off in the settings)" in caplog.text

    assert [r.step for r in free_logs] == [r.step for r in padded_logs] == [1, 2, 3, 4, 5]
    for a, b in zip(free_logs, padded_logs, strict=True):
        assert a.loss == pytest.approx(b.loss, rel=1e-4, abs=1e-5)
        assert a.tokens_seen == b.tokens_seen  # real tokens on both sides: padding is never counted
    assert free_evals[0].eval_loss == pytest.approx(padded_evals[0].eval_loss, rel=1e-4)
    for (name, a), (_, b) in zip(free.model.named_parameters(), padded.model.named_parameters(), strict=True):
        if a.requires_grad:
            assert torch.allclose(a, b, atol=1e-5), name


def test_preference_training_keeps_padded_batches(tmp_path, tiny_model_dir, caplog):
    from lora_studio.settings import SAMPLES_DIR

    lines = (SAMPLES_DIR / "preference-pairs.jsonl").read_text(encoding="utf-8").splitlines()[:16]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = tiny_config(tiny_model_dir, pairs, "training.method=dpo", "training.max_steps=2", "training.compile=never")
    with caplog.at_level(logging.INFO, logger="lora_studio.engine"):
        assert train(cfg, new_run(tmp_path, cfg)).state == "completed"
    assert "batches without padding" not in caplog.text  # not offered: TRL pads the pairs itself


def _compiled_run_rows(paths, compile_s: float, sec_per_step: float) -> None:
    for step in range(1, 9):
        append_row(
            paths.metrics,
            MetricRow(
                event="log",
                step=step,
                max_steps=8,
                loss=1.0,
                elapsed_s=compile_s + step * sec_per_step,
                tokens_seen=100 * step,
            ),
        )


def test_auto_compiles_only_when_a_compiled_run_showed_it_pays(tmp_path, tiny_model_dir, chat_file):
    cfg = tiny_config(tiny_model_dir, chat_file)
    assert cfg.training.compile == "auto"
    assert compile_for(cfg, 10_000) is False  # nothing measured yet
    calibration.record(calibration.key_for(cfg, device_label()), 1.0, 100.0)  # eager: 1 s per step

    paths = new_run(tmp_path, cfg, "compiled")
    _compiled_run_rows(paths, compile_s=120.0, sec_per_step=0.5)  # what a compiled run of 8 steps logged
    _record_speed(cfg, paths, all_params=1000, compiled=True)
    kept = calibration.lookup(calibration.key_for(cfg, device_label(), compiled=True))
    assert kept is not None and kept.sec_per_step == pytest.approx(0.5) and kept.compile_s == pytest.approx(120.0)
    assert calibration.lookup(calibration.key_for(cfg, device_label())).sec_per_step == 1.0  # eager speed kept

    # 120 s of compiling, 0.5 s saved per step: pays after 240 steps, auto asks for a margin on top.
    assert compile_for(cfg, 200) is False
    assert compile_for(cfg, 1000) is True
    cfg.training.compile = "never"
    assert compile_for(cfg, 1000) is False
    cfg.training.compile = "always"
    assert compile_for(cfg, 1) is True


def test_auto_stays_off_where_compiled_steps_were_slower(tmp_path, tiny_model_dir, chat_file, caplog):
    cfg = tiny_config(tiny_model_dir, chat_file)
    calibration.record(calibration.key_for(cfg, device_label()), 1.0, 100.0)
    calibration.record(calibration.key_for(cfg, device_label(), compiled=True), 1.1, 90.0, compile_s=170.0)
    with caplog.at_level(logging.INFO, logger="lora_studio.engine"):
        assert compile_for(cfg, 1_000_000) is False
    assert "compiled steps were not faster here (1.10 s vs 1.00 s per step)" in caplog.text


def test_a_compiled_run_trains_the_same_as_an_eager_one(tmp_path, tiny_model_dir, chat_file, caplog):
    # About 40 s on 2 CPU cores: inductor compiles the forward and backward passes once, then once more for the
    # batches' varying lengths.
    eager, eager_logs, _ = _run(tmp_path, tiny_model_dir, chat_file, "eager", "training.max_steps=4")
    with caplog.at_level(logging.INFO, logger="lora_studio.engine"):
        compiled, compiled_logs, _ = _run(
            tmp_path, tiny_model_dir, chat_file, "compiled", "training.max_steps=4", "training.compile=always"
        )
    assert "torch.compile: on (turned on in the settings)" in caplog.text
    assert compiled.compiled and not eager.compiled
    for a, b in zip(compiled_logs, eager_logs, strict=True):
        assert a.loss == pytest.approx(b.loss, rel=1e-3)
    assert (compiled.adapter_dir / "adapter_model.safetensors").exists()


def test_the_output_layer_skips_the_prompt_on_a_cpu_and_the_loss_stays(
    tmp_path, tiny_model_dir, chat_file, monkeypatch
):
    """TRL's fused LM head put every position, the prompt's included, through the output layer on a CPU (it skips
    the unlabelled ones only where Triton runs). Now only the labelled ones go through it: fewer rows, the same
    per-step losses and adapter."""
    import trl.trainer.utils as trl_utils

    projected: list[int] = []
    kernel = trl_utils._ChunkedLogProbFunction

    class Spy:
        @staticmethod
        def apply(hidden, *rest):
            projected.append(hidden.shape[0])
            return kernel.apply(hidden, *rest)

    monkeypatch.setattr(trl_utils, "_ChunkedLogProbFunction", Spy)
    skipped, skipped_logs, _ = _run(tmp_path, tiny_model_dir, chat_file, "skipped")
    skipped_rows = sum(projected)
    assert trl_utils._use_triton is speedups._compact

    projected.clear()
    monkeypatch.setattr(speedups, "labelled_only", lambda device, compiled: speedups.Choice(False, "test"))
    every, every_logs, _ = _run(tmp_path, tiny_model_dir, chat_file, "every")  # TRL as it ships
    assert trl_utils._use_triton is speedups._TRL_SWITCH[0]
    every_rows = sum(projected)

    assert skipped_rows < 0.8 * every_rows, (skipped_rows, every_rows)  # the system prompt and questions skipped
    for a, b in zip(skipped_logs, every_logs, strict=True):
        assert a.loss == pytest.approx(b.loss, rel=1e-5, abs=1e-6)
    for (name, a), (_, b) in zip(skipped.model.named_parameters(), every.model.named_parameters(), strict=True):
        if a.requires_grad:
            assert torch.allclose(a, b, atol=1e-6), name
