"""The Data tab's loss-mask preview against what TRL's SFTTrainer actually trains on."""

from __future__ import annotations

import pytest
from transformers import AutoModelForCausalLM

from lora_studio.config import RunConfig, apply_overrides
from lora_studio.dataset_rows import load_dataset_file
from lora_studio.engine.dataset_build import build_datasets
from lora_studio.engine.preview import CONTEXT, CUT, LEARNED, Previewer
from lora_studio.engine.train import make_sft_config
from lora_studio.runs import RunPaths
from tests.conftest import write_jsonl

CHATS = [
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": "And 3+3?"},
            {"role": "assistant", "content": "6, of course."},
        ]
    },
    {"messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Teal 🌱"}]},
]
PROMPTS = [
    {"prompt": "Translate to French: cat", "completion": "chat"},
    {"prompt": "Opposite of hot?", "completion": "cold"},
]
TEXTS = [{"text": "Once upon a time there was a small model."}, {"text": "It learned quickly."}]


def trl_label_masks(rows_file, tiny_model_dir, tmp_path, max_length, assistant_only=True):
    """Masks from a real SFTTrainer's prepared train dataset (labels != -100)."""
    from trl import SFTTrainer

    from lora_studio.engine.dataset_build import loss_settings
    from lora_studio.engine.models import load_tokenizer

    cfg = apply_overrides(
        RunConfig(), [f"data.max_length={max_length}", f"data.assistant_only_loss={str(assistant_only).lower()}"]
    )
    data = load_dataset_file(rows_file)
    tokenizer = load_tokenizer(str(tiny_model_dir))
    use_mask, tokenizer.chat_template = loss_settings(tokenizer, data.format, assistant_only)
    train_ds, _ = build_datasets(data, cfg.data, 0, tokenizer)
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        args=make_sft_config(cfg, RunPaths(tmp_path), "cpu", False, use_mask),
        train_dataset=train_ds,
        processing_class=tokenizer,
    )
    return [[int(label != -100) for label in row] for row in trainer.train_dataset["labels"]], data


@pytest.mark.parametrize("rows", [CHATS, PROMPTS, TEXTS], ids=["messages", "prompt_completion", "text"])
def test_preview_mask_matches_what_sft_trainer_trains_on(tmp_path, tiny_model_dir, rows):
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    trl_masks, data = trl_label_masks(path, tiny_model_dir, tmp_path, max_length=512)
    preview = Previewer(data, str(tiny_model_dir))
    ours = [preview.ids_and_mask(row)[1] for row in preview.rows]
    # SFTTrainer's labels are unshifted (the model shifts them): compare position by position.
    assert ours == trl_masks
    assert any(0 in m for m in ours) == (data.format != "text")


def test_learned_segments_are_exactly_the_assistant_replies(tmp_path, tiny_model_dir):
    data = load_dataset_file(write_jsonl(tmp_path / "d.jsonl", CHATS))
    view = Previewer(data, str(tiny_model_dir)).view(0, max_length=512)
    learned = [text for text, label in view.segments if label == LEARNED]
    assert learned == ["4<|im_end|>", "6, of course.<|im_end|>"]
    assert "".join(text for text, _ in view.segments).startswith("<|im_start|>system\nBe brief.")
    assert not view.truncated and not view.dropped and view.n_learned > 0
    assert {label for _, label in view.segments} == {LEARNED, CONTEXT}


def test_truncation_and_dropped_rows_match_trl(tmp_path, tiny_model_dir):
    long_prompt = {"messages": [{"role": "user", "content": "word " * 80}, {"role": "assistant", "content": "ok"}]}
    path = write_jsonl(tmp_path / "d.jsonl", [*CHATS, long_prompt])
    trl_masks, data = trl_label_masks(path, tiny_model_dir, tmp_path, max_length=40)
    preview = Previewer(data, str(tiny_model_dir))
    stats = preview.stats(max_length=40)
    assert stats.rows_total == 3 and stats.truncated >= 1
    assert len(trl_masks) == 3 - stats.dropped  # TRL drops exactly the rows we call dropped
    assert stats.dropped == 1 and "past max length" in stats.drop_reasons[0]
    view = preview.view(2, max_length=40)
    assert view.dropped and view.segments[-1][1] == CUT
