"""Sample answers at each checkpoint, on the tiny random Llama (seconds per test)."""

from __future__ import annotations

import logging
from collections import Counter
from types import SimpleNamespace

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from lora_studio.dataset_rows import load_dataset_file, split_indices
from lora_studio.engine.callbacks import SampleGenerationCallback, sample_callbacks
from lora_studio.engine.train import train
from lora_studio.generation_config import GenerationSettings
from lora_studio.metrics import read_all
from lora_studio.runs import RunPaths
from lora_studio.sample_answers import read_samples
from tests.conftest import write_jsonl
from tests.integration.helpers import new_run, tiny_config

PROMPTS = ["What is 12 plus 30?", "Say hello to Pip."]
FAILED = "Sample generation"


@torch.no_grad()
def greedy(model, tokenizer, prompt: str, max_new_tokens: int, template: str | None) -> str:
    """An independent greedy answer, to compare the recorded ones against."""
    model.eval()
    if template:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], chat_template=template, tokenize=False, add_generation_prompt=True
        )
        batch = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    else:
        batch = tokenizer(prompt, return_tensors="pt")
    out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)


def quoted(prompts: list[str]) -> str:
    return "[" + ", ".join(f"'{p}'" for p in prompts) + "]"


def failures(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if FAILED in r.getMessage()]


def test_answers_at_start_every_save_and_end(tmp_path, tiny_model_dir, chat_file, caplog):
    caplog.set_level(logging.INFO, logger="lora_studio")
    cfg = tiny_config(
        tiny_model_dir,
        chat_file,
        "training.save_steps=3",
        "training.learning_rate=0.01",
        "training.sample_max_new_tokens=12",
        f"training.sample_prompts={quoted(PROMPTS)}",
    )
    paths = new_run(tmp_path, cfg)
    result = train(cfg, paths)
    assert result.step == 6 and not failures(caplog)

    rows = read_samples(paths.samples)
    assert [(r.step, r.prompt) for r in rows] == [(s, p) for s in (0, 3, 6) for p in PROMPTS]
    assert all(isinstance(r.output, str) and r.output and r.seconds > 0 and r.time > 0 for r in rows)
    assert [r.time for r in rows] == sorted(r.time for r in rows)
    # The first loss point is written before the starting point's answers (a person watching sees it first);
    # the speed and the elapsed time of the next points leave the answers' time out.
    points = [p for p in read_all(paths.metrics) if p.event == "log"]
    assert points[0].step == 1 and points[0].time < rows[0].time
    answering = rows[len(PROMPTS) - 1].time - rows[0].time + rows[0].seconds
    assert points[1].elapsed_s < points[1].time - points[0].time + points[0].elapsed_s - 0.9 * answering

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    template = tokenizer.chat_template
    by_step = {s: [r.output for r in rows if r.step == s] for s in (0, 3, 6)}
    # Step 0 is the untouched base model (the adapter starts at zero) ...
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert by_step[0] == [greedy(base, tokenizer, p, 12, template) for p in PROMPTS]
    # ... the last step is the trained model, and training changed the answers.
    assert by_step[6] == [greedy(result.model, tokenizer, p, 12, template) for p in PROMPTS]
    assert by_step[6] != by_step[0]


def test_prompts_come_from_the_held_out_rows_when_none_are_configured(tmp_path, tiny_model_dir, chat_file):
    cfg = tiny_config(
        tiny_model_dir,
        chat_file,
        "training.max_steps=2",
        "training.save_steps=100",
        "data.eval_fraction=0.1",
        "training.eval_steps=100",
        "training.sample_max_new_tokens=4",
    )
    paths = new_run(tmp_path, cfg)
    train(cfg, paths)
    data = load_dataset_file(chat_file)
    _, eval_idx = split_indices(len(data.rows), 0.1, cfg.training.seed)
    held_out = [next(t["content"] for t in data.rows[i]["messages"] if t["role"] == "user") for i in eval_idx][:2]
    rows = read_samples(paths.samples)
    # The last step is saved at the end of training: its answers come once, not again from on_train_end.
    assert [(r.step, r.prompt) for r in rows] == [(s, p) for s in (0, 2) for p in held_out]


def test_samples_off_writes_nothing(tmp_path, tiny_model_dir, chat_file):
    cfg = tiny_config(
        tiny_model_dir, chat_file, "training.max_steps=2", "training.save_steps=1", "training.sample_every_save=false"
    )
    paths = new_run(tmp_path, cfg)
    assert train(cfg, paths).state == "completed"
    assert not paths.samples.exists()


def test_a_failing_generation_is_logged_and_training_goes_on(tmp_path, tiny_model_dir, chat_file, monkeypatch, caplog):
    def boom(self, model, prompt):
        raise RuntimeError("generation exploded")

    monkeypatch.setattr(SampleGenerationCallback, "_answer", boom)
    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=4", "training.save_steps=2")
    paths = new_run(tmp_path, cfg)
    result = train(cfg, paths)
    assert result.state == "completed" and result.step == 4
    assert (paths.adapter / "adapter_model.safetensors").is_file()
    assert read_samples(paths.samples) == []
    messages = failures(caplog)
    assert len(messages) == 3  # steps 0, 2 and 4, each said out loud
    assert all("RuntimeError" in m and "generation exploded" in m for m in messages)


def test_resume_does_not_repeat_the_start(tmp_path, tiny_model_dir, chat_file):
    from lora_studio.engine.worker import run

    cfg = tiny_config(
        tiny_model_dir,
        chat_file,
        "training.max_steps=6",
        "training.save_steps=100",
        "training.sample_max_new_tokens=4",
        f"training.sample_prompts={quoted(PROMPTS[:1])}",
    )
    paths = new_run(tmp_path, cfg)

    def stop_at_step_2(row):
        if row.step >= 2:
            paths.stop.touch()

    stopped = train(cfg, paths, on_row=stop_at_step_2)
    assert stopped.state == "stopped"
    # Stop saves at once: no answers at the step it stopped at (the next attempt answers its starting point).
    assert [r.step for r in read_samples(paths.samples)] == [0]
    paths.stop.unlink()  # whoever starts the next attempt clears the old request (jobs and the CLI do)
    assert run(paths.root, resume=True) == 0
    steps = Counter(r.step for r in read_samples(paths.samples))
    assert steps == Counter({0: 1, stopped.step: 1, 6: 1})


def test_a_stop_asked_before_the_first_step_ends_writes_no_answers(tmp_path, tiny_model_dir, chat_file):
    """The first logged step comes right after the stop is seen: the starting point's answers are skipped too."""
    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=6", f"training.sample_prompts={quoted(PROMPTS)}")
    paths = new_run(tmp_path, cfg)
    paths.stop.touch()
    stopped = train(cfg, paths)
    assert (stopped.state, stopped.step) == ("stopped", 1)
    assert read_samples(paths.samples) == []
    assert (paths.adapter / "adapter_model.safetensors").is_file()  # saved all the same


@pytest.mark.parametrize(
    "overrides",
    [
        ["model.load_in_8bit=true", "training.gradient_checkpointing=true"],
        ["lora.init=olora"],
    ],
    ids=["8bit-checkpointing", "olora"],
)
def test_samples_work_with_8bit_checkpointing_and_olora(tmp_path, tiny_model_dir, chat_file, caplog, overrides):
    pytest.importorskip("bitsandbytes")
    cfg = tiny_config(
        tiny_model_dir,
        chat_file,
        "training.max_steps=2",
        "training.save_steps=100",
        "training.sample_max_new_tokens=6",
        *overrides,
    )
    paths = new_run(tmp_path, cfg)
    assert train(cfg, paths).state == "completed"
    assert not failures(caplog)
    rows = read_samples(paths.samples)
    assert [r.step for r in rows] == [0, 0, 2, 2] and all(isinstance(r.output, str) and r.output for r in rows)


def test_generation_uses_the_models_own_template_and_restores_train_mode(tmp_path, tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    original = tokenizer.chat_template
    expected = greedy(model, tokenizer, PROMPTS[0], 6, original)
    raw = greedy(model, tokenizer, PROMPTS[0], 6, None)
    assert expected != raw  # the template matters for this prompt, so the check below can fail
    # Training swaps in its own template; generation must not use it.
    tokenizer.chat_template = "{% for m in messages %}TRAINING {{ m['content'] }}{% endfor %}"
    path = tmp_path / "samples.jsonl"
    callback = SampleGenerationCallback(path, tokenizer, PROMPTS[:1], GenerationSettings.greedy(6), original)
    model.train()
    callback.generate(model, 0)
    assert model.training  # back in train mode for the next step
    assert read_samples(path)[0].output == expected

    raw_prompt = SampleGenerationCallback(path, tokenizer, PROMPTS[:1], GenerationSettings.greedy(6), None)
    raw_prompt.generate(model, 1)  # no template: the raw prompt
    assert read_samples(path)[1].output == raw


def test_end_of_training_answers_unless_that_step_was_just_saved(tmp_path, tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    path = tmp_path / "samples.jsonl"
    callback = SampleGenerationCallback(
        path, tokenizer, PROMPTS[:1], GenerationSettings.greedy(2), tokenizer.chat_template
    )

    def state(step: int, zero: bool = True):
        return SimpleNamespace(global_step=step, is_world_process_zero=zero)

    callback.on_train_begin(None, state(0), None, model=model)
    callback.on_save(None, state(3), None, model=model)
    callback.on_train_end(None, state(3), None, model=model)  # same step as the save: nothing new
    assert [r.step for r in read_samples(path)] == [0, 3]
    callback.on_train_end(None, state(5), None, model=model)  # ended between saves
    callback.on_save(None, state(8, zero=False), None, model=model)  # other processes never generate
    assert [r.step for r in read_samples(path)] == [0, 3, 5]
    # A restarted run whose file already holds its first step does not answer it again.
    SampleGenerationCallback(path, tokenizer, PROMPTS[:1], GenerationSettings.greedy(2), None).on_train_begin(
        None, state(3), None, model=model
    )
    assert [r.step for r in read_samples(path)] == [0, 3, 5]


def test_the_starting_points_answers_come_after_the_first_step_with_its_weights(tmp_path, tiny_model_dir):
    """Written at the first logged step, from the weights training started with; the trained ones are back after,
    and the time it took is reported so that speed leaves it out."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    template = tokenizer.chat_template
    before = greedy(model, tokenizer, PROMPTS[0], 6, template)
    paused: list[float] = []
    path = tmp_path / "samples.jsonl"
    callback = SampleGenerationCallback(
        path, tokenizer, PROMPTS[:1], GenerationSettings.greedy(6), template, paused.append
    )
    state = SimpleNamespace(global_step=0, is_world_process_zero=True)
    callback.on_train_begin(None, state, None, model=model)
    assert read_samples(path) == [] and paused == []  # nothing before the first step
    with torch.no_grad():  # "training": the weights move
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    trained = {n: p.detach().clone() for n, p in model.named_parameters()}
    after = greedy(model, tokenizer, PROMPTS[0], 6, template)
    assert after != before  # so the check below can fail
    model.train()
    state.global_step = 1
    callback.on_log(None, state, None, model=model)
    assert [(r.step, r.output) for r in read_samples(path)] == [(0, before)]
    assert all(torch.equal(p, trained[n]) for n, p in model.named_parameters()) and model.training
    assert len(paused) == 1 and paused[0] >= read_samples(path)[0].seconds
    callback.on_log(None, state, None, model=model)  # once only
    callback.on_save(None, SimpleNamespace(global_step=2, is_world_process_zero=True), None, model=model)
    assert [(r.step, r.output) for r in read_samples(path)] == [(0, before), (2, after)]


def test_plain_text_data_samples_continue_the_raw_text(tmp_path, tiny_model_dir):
    text_file = write_jsonl(
        tmp_path / "text.jsonl", [{"text": f"Story {i}: once upon a time there was a fox."} for i in range(4)]
    )
    cfg = tiny_config(tiny_model_dir, text_file)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    data = load_dataset_file(text_file)
    [callback] = sample_callbacks(cfg, data, RunPaths(tmp_path), tokenizer, tokenizer.chat_template)
    assert callback.chat_template is None
    assert callback.prompts == [f"Story {i}: once upon a time there was a fox." for i in (0, 1)]
