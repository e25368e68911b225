"""Real training on a tiny random Llama with the SmolLM2 tokenizer (seconds per test)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from lora_studio.engine.train import train
from lora_studio.metrics import read_all
from lora_studio.modelcard import read_data_stats
from lora_studio.runs import RunPaths
from tests.integration.helpers import logits, new_run, tiny_config


def test_training_logs_metrics_and_saves_a_standard_adapter(tmp_path, tiny_model_dir, chat_file):
    cfg = tiny_config(
        tiny_model_dir, chat_file, "training.max_steps=8", "data.eval_fraction=0.1", "training.eval_steps=4"
    )
    paths = new_run(tmp_path, cfg)
    seen = []
    result = train(cfg, paths, on_row=seen.append)
    assert result.state == "completed" and result.step == 8

    rows = read_all(paths.metrics)
    assert [r.step for r in rows] == [r.step for r in seen]  # the file and the live stream agree
    log_rows = [r for r in rows if r.event == "log"]
    assert [r.step for r in log_rows] == list(range(1, 9))
    assert all(math.isfinite(r.loss) and r.max_steps == 8 for r in log_rows)
    assert min(r.loss for r in log_rows[1:]) < log_rows[0].loss
    assert all(r.tokens_seen > 0 and r.learning_rate is not None and r.elapsed_s >= 0 for r in log_rows)
    assert log_rows[-1].tokens_seen > log_rows[0].tokens_seen
    assert all(r.tokens_per_sec > 0 for r in log_rows[1:])
    evals = [r for r in rows if r.event == "eval"]
    assert [r.step for r in evals] == [4, 8] and all(math.isfinite(r.eval_loss) for r in evals)

    files = {p.name for p in paths.adapter.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= files
    # The base is named by its public name (here only the folder's name), never by a path of this machine.
    assert json.loads((paths.adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == (
        tiny_model_dir.name
    )
    # What the model card says of the data, written now so that an export never reads the data again.
    stats = read_data_stats(paths)
    assert {k: stats[k] for k in ("file", "rows", "format", "train_rows", "eval_rows")} == {
        "file": "chat.jsonl",
        "rows": 40,
        "format": "messages",
        "train_rows": 36,
        "eval_rows": 4,
    }
    assert stats["train_tokens"] > 36
    # Plain transformers + peft, no LoRA Studio code: the adapter loads and changes the outputs.
    tokenizer = AutoTokenizer.from_pretrained(paths.adapter)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    base_logits = logits(base, tokenizer)
    tuned = PeftModel.from_pretrained(base, paths.adapter)
    tuned_logits = logits(tuned, tokenizer)
    assert (tuned_logits - base_logits).abs().max() > 1e-3
    # ... and reproduces the model as it was at the end of training.
    assert torch.allclose(tuned_logits, logits(result.model, tokenizer), atol=1e-5)
    # The saved tokenizer keeps the model's own chat template, not the training copy with markers.
    assert "{% generation %}" not in tokenizer.chat_template


def test_olora_adapter_is_correct_on_the_untouched_original_base(tmp_path, tiny_copy, chat_file):
    before = AutoModelForCausalLM.from_pretrained(tiny_copy).state_dict()
    cfg = tiny_config(tiny_copy, chat_file, "lora.init=olora")
    paths = new_run(tmp_path, cfg)
    result = train(cfg, paths)
    tokenizer = AutoTokenizer.from_pretrained(paths.adapter)
    trained_logits = logits(result.model, tokenizer)  # the mutated base + the trained OLoRA adapter

    fresh = AutoModelForCausalLM.from_pretrained(tiny_copy)
    assert all(torch.equal(before[k], v) for k, v in fresh.state_dict().items())  # disk copy untouched
    base_logits = logits(fresh, tokenizer)
    converted = PeftModel.from_pretrained(fresh, paths.adapter)
    assert converted.peft_config["default"].r == 2 * cfg.lora.r  # peft's conversion to plain LoRA
    converted_logits = logits(converted, tokenizer)
    assert (converted_logits - trained_logits).abs().max() < 1e-4
    assert (converted_logits - base_logits).abs().max() > 1e-3


def test_8bit_base_trains_on_this_device(tmp_path, tiny_model_dir, chat_file):
    import bitsandbytes as bnb

    cfg = tiny_config(tiny_model_dir, chat_file, "model.load_in_8bit=true", "training.max_steps=4")
    paths = new_run(tmp_path, cfg)
    result = train(cfg, paths)
    quantized = [m for m in result.model.modules() if isinstance(m, bnb.nn.Linear8bitLt)]
    assert quantized, "the base was not loaded in 8-bit"
    assert all(math.isfinite(r.loss) for r in read_all(paths.metrics))
    tokenizer = AutoTokenizer.from_pretrained(paths.adapter)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    base_logits = logits(base, tokenizer)
    tuned = PeftModel.from_pretrained(base, paths.adapter)
    assert (logits(tuned, tokenizer) - base_logits).abs().max() > 1e-3


def test_stop_file_stops_early_saves_and_resume_continues(tmp_path, tiny_model_dir, chat_file):
    from lora_studio.engine.worker import run
    from lora_studio.runs import read_status

    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=30", "training.save_steps=100")
    paths = new_run(tmp_path, cfg)

    def stop_at_step_3(row):
        if row.step >= 3:
            paths.stop.touch()

    result = train(cfg, paths, on_row=stop_at_step_3)
    assert result.state == "stopped" and 3 <= result.step < 30
    assert (paths.adapter / "adapter_model.safetensors").is_file()
    assert (paths.checkpoints / f"checkpoint-{result.step}").is_dir()  # resumable

    paths.stop.unlink()  # whoever starts the next attempt clears the old request (jobs and the CLI do)
    assert run(paths.root, resume=True) == 0
    status = read_status(paths)
    assert status.state == "completed" and status.step == 30
    steps = [r.step for r in read_all(paths.metrics) if r.event == "log"]
    assert steps[-1] == 30 and max(s for s in steps if s <= result.step) == result.step


def test_stop_cuts_the_step_in_progress_and_resume_trains_its_batch_again(tmp_path, tiny_model_dir, chat_file, caplog):
    """Stop saves within one step: the step in progress is dropped (the weights are still the last finished step's)
    instead of finished first."""
    import logging
    import time

    from lora_studio.engine.worker import run
    from lora_studio.runs import read_status

    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=12", "training.save_steps=100")
    paths = new_run(tmp_path, cfg)

    def stop_after_step_3(row):
        if row.step == 3:
            paths.stop.touch()
            time.sleep(0.5)  # the watcher sees the file before step 4 begins: step 4 is cut at its first layer

    with caplog.at_level(logging.INFO, logger="lora_studio.engine"):
        result = train(cfg, paths, on_row=stop_after_step_3)
    assert result.state == "stopped" and result.step == 3
    assert "Stopped during step 4: saving step 3" in caplog.text
    checkpoint = paths.checkpoints / "checkpoint-3"
    assert (checkpoint / "optimizer.pt").is_file() and json.loads((checkpoint / "trainer_state.json").read_text())[
        "global_step"
    ] == 3
    stopped = logits(result.model, AutoTokenizer.from_pretrained(paths.adapter))  # the hooks are gone again
    assert torch.isfinite(stopped).all()

    paths.stop.unlink()
    assert run(paths.root, resume=True) == 0
    assert read_status(paths).state == "completed" and read_status(paths).step == 12
    steps = [r.step for r in read_all(paths.metrics) if r.event == "log"]
    assert steps == list(range(1, 13))  # step 4 was trained once, after the resume


def test_the_stop_hooks_cut_a_backward_pass_too(tmp_path, tiny_model_dir):
    from transformers import TrainerState

    from lora_studio.config import RunConfig
    from lora_studio.engine.callbacks import StopFileCallback, StopNow
    from lora_studio.engine.train import build_peft_model

    model = build_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), RunConfig())
    ids = torch.tensor([[1, 2, 3, 4]])
    stop = StopFileCallback(tmp_path / "STOP")
    state = TrainerState()
    state.global_step = 5
    stop.on_train_begin(None, state, None)
    with stop.interrupt(model):
        loss = model(input_ids=ids, labels=ids).loss  # not asked yet: the forward pass runs
        stop.stopped = True
        with pytest.raises(StopNow):
            loss.backward()
        with pytest.raises(StopNow):
            model(input_ids=ids)
    assert model(input_ids=ids).logits.shape[1] == 4  # outside training no hook is left


@pytest.mark.parametrize("preset", ["quick-start", "chat-assistant", "olora", "low-memory-8bit"])
def test_every_preset_trains(tmp_path, tiny_model_dir, chat_file, preset):
    from lora_studio.engine.worker import run
    from lora_studio.presets import load_preset
    from lora_studio.runs import read_status

    base = load_preset(preset)
    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=3", base=base)
    cfg.lora = base.lora  # keep the preset's own adapter settings
    paths = new_run(tmp_path, cfg)
    assert run(paths.root) == 0
    status = read_status(paths)
    assert status.state == "completed" and status.step == 3, status.error
    assert status.trainable_params > 0 and status.final_loss is not None
    assert (RunPaths(paths.root).adapter / "adapter_config.json").is_file()
