"""Sample generations: the model's answers to a few fixed prompts, at each checkpoint.

The engine callback writes one SampleRow per prompt to samples.jsonl at step 0 (the base model),
at every save and at the end; the CLI and the UI read them back to show the answers change as
the loss falls. Plain file handling, no torch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from lora_studio.config import MAX_PROMPT_CHARS
from lora_studio.dataset_rows import LoadedData, split_indices

log = logging.getLogger(__name__)

# Plain-text rows have no prompt: the opening words of a row are the prompt to continue.
_TEXT_PROMPT_WORDS = 12


@dataclass
class SampleRow:
    """One prompt's answer at one training step."""

    step: int
    prompt: str
    output: str
    time: float  # wall clock when the answer was ready, seconds since the epoch
    seconds: float  # how long generating this answer took

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> SampleRow:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def append_sample(path: str | Path, row: SampleRow) -> None:
    """Append one row as a single write so a reader never sees two rows interleaved."""
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(row.to_json() + "\n")
        fh.flush()


def read_samples(path: str | Path) -> list[SampleRow]:
    """Every complete row; a half-written last line (the writer is mid-append) waits for the next read,
    and a torn line left by a crash is skipped."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    end = data.rfind(b"\n")
    rows = []
    for line in data[: end + 1].splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            rows.append(SampleRow.from_dict(record))
        except (ValueError, TypeError, AttributeError):
            log.debug("skipping an unreadable line in %s", path)
    return rows


def sampled_steps(path: str | Path) -> set[int]:
    """The steps that already have answers (a resumed run does not repeat them)."""
    return {row.step for row in read_samples(path)}


def row_prompt(row: dict, data_format: str) -> str:
    """The prompt a normalised data row asks: its first user turn, its prompt (a pair's last user turn), or its
    opening words."""
    if data_format == "messages":
        return next((t["content"] for t in row.get("messages", []) if t.get("role") == "user"), "")
    if data_format == "prompt_completion":
        return str(row.get("prompt", ""))
    if data_format == "preference":
        prompt = row.get("prompt", "")
        if isinstance(prompt, list):  # chat turns: the last question asked before the two answers
            return next((t["content"] for t in reversed(prompt) if t.get("role") == "user"), "")
        return str(prompt)
    return " ".join(str(row.get("text", "")).split()[:_TEXT_PROMPT_WORDS])


def default_prompts(data: LoadedData, n: int = 2, eval_fraction: float = 0.0, seed: int = 0) -> list[str]:
    """Up to `n` distinct prompts: from the held-out rows first (answers the model never trained on),
    then from the first training rows. `eval_fraction` and `seed` give the same split training uses."""
    train_idx, eval_idx = split_indices(len(data.rows), eval_fraction, seed)
    prompts: list[str] = []
    for i in [*eval_idx, *train_idx]:
        prompt = row_prompt(data.rows[i], data.format).strip()
        if prompt and len(prompt) <= MAX_PROMPT_CHARS and prompt not in prompts:  # a question, not a document
            prompts.append(prompt)
            if len(prompts) >= n:
                break
    return prompts
