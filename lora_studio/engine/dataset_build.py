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
from lora_studio.dataset_rows import LoadedData, split_indices, training_rows
from lora_studio.errors import DataError
from lora_studio.evaluation import as_turns
from lora_studio.messages import text

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


def loss_settings(tokenizer, data_format: str, assistant_only_requested: bool) -> tuple[bool, str | None]:
    """(assistant_only, template to train with) for a data format and the model's tokenizer.

    Training and the Data tab's preview both call this, so the preview masks what training masks.
    """
    if not (assistant_only_requested and data_format == "messages"):
        return False, tokenizer.chat_template
    marked = training_chat_template(tokenizer)
    if marked is None:
        log.warning(
            "The chat template of this model cannot mark assistant turns; "
            "training on whole conversations instead of assistant replies only."
        )
        return False, tokenizer.chat_template
    return True, marked


def to_trl_rows(data: LoadedData, tokenizer) -> list[dict]:
    """Plain prompt/completion becomes a one-turn chat when the model has a chat template,
    so an instruct model sees its own chat format (TRL then masks the prompt). Pairs of answers likewise:
    the prompt the user's turn, each answer the assistant's."""
    rows = training_rows(data.rows)
    if data.format == "preference":
        if tokenizer.chat_template:
            return [
                {
                    "prompt": as_turns(r["prompt"], "user"),
                    "chosen": as_turns(r["chosen"], "assistant"),
                    "rejected": as_turns(r["rejected"], "assistant"),
                }
                for r in rows
            ]
        if any(not isinstance(r["prompt"], str) for r in rows):
            raise DataError(
                text("engine.pairs_need_template", name=data.path.name), text("engine.pairs_need_template_hint")
            )
        return rows
    if data.format != "prompt_completion" or not tokenizer.chat_template:
        return rows
    return [
        {
            "prompt": [{"role": "user", "content": r["prompt"]}],
            "completion": [{"role": "assistant", "content": r["completion"]}],
        }
        for r in rows
    ]


def build_datasets(data: LoadedData, data_cfg: DataSettings, seed: int, tokenizer) -> tuple[Dataset, Dataset | None]:
    """The same deterministic split the Data tab shows (lora_studio.dataset_rows.split_indices)."""
    if not data.rows:
        raise DataError(text("engine.no_usable_rows", name=data.path.name), text("datafile.empty_hint"))
    rows = to_trl_rows(data, tokenizer)
    train_idx, eval_idx = split_indices(len(rows), data_cfg.eval_fraction, seed)
    train = Dataset.from_list([rows[i] for i in train_idx])
    return train, (Dataset.from_list([rows[i] for i in eval_idx]) if eval_idx else None)
