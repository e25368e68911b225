"""Loaded rows → `datasets.Dataset` in TRL's formats, the eval split, and the training template.

Assistant-only loss needs a chat template with `{% generation %}` markers. TRL patches the
templates it knows; SmolLM2's (the embedded model) is not among them, so LoRA Studio ships a
marked copy that renders byte-for-byte the same text.
"""

from __future__ import annotations

import logging
from pathlib import Path

from datasets import Dataset

from lora_studio.config import DataSettings
from lora_studio.data import LoadedData
from lora_studio.errors import DataError

log = logging.getLogger(__name__)
_TEMPLATES = Path(__file__).parent / "chat_templates"


def _template(name: str) -> str:
    return (_TEMPLATES / name).read_text(encoding="utf-8").rstrip("\n")


def training_chat_template(tokenizer) -> str | None:
    """A template with generation markers for assistant-only loss, or None if the model has none.

    Returns the tokenizer's own template when it is already marked.
    """
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    current = tokenizer.chat_template
    if not current:
        return None
    if isinstance(current, str) and has_generation_markers(current):
        return current
    if current == _template("smollm2.jinja"):
        return _template("smollm2_training.jinja")
    try:
        return get_training_chat_template(tokenizer) or current
    except ValueError:
        return None


def to_trl_rows(data: LoadedData, tokenizer) -> list[dict]:
    """Plain prompt/completion becomes a one-turn chat when the model has a chat template,
    so an instruct model sees its own chat format (TRL then masks the prompt)."""
    if data.format != "prompt_completion" or not tokenizer.chat_template:
        return data.rows
    return [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "completion": [{"role": "assistant", "content": r["completion"]}]} for r in data.rows]


def split_rows(rows: list[dict], eval_fraction: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """Deterministic train/eval split; at least one row on each side when eval is asked for."""
    dataset = Dataset.from_list(rows)
    if eval_fraction <= 0:
        return dataset, None
    if len(rows) < 2:
        raise DataError(f"Only {len(rows)} row(s): too few to hold some out for evaluation",
                        "Add rows or set data.eval_fraction to 0")
    n_eval = min(max(1, round(len(rows) * eval_fraction)), len(rows) - 1)
    split = dataset.train_test_split(test_size=n_eval, seed=seed, shuffle=True)
    return split["train"], split["test"]


def build_datasets(data: LoadedData, data_cfg: DataSettings, seed: int, tokenizer) -> tuple[Dataset, Dataset | None]:
    if not data.rows:
        raise DataError(f"{data.path.name} has no usable rows", "Add at least one example row")
    return split_rows(to_trl_rows(data, tokenizer), data_cfg.eval_fraction, seed)
