"""The quality benchmark's tasks (bench/quality.py): what users fine-tune for, small enough for a 2-core CPU.

Each task is a deterministic generator (`generate.py`, fixed seeds) whose files are committed beside it:
    bench/tasks/<task>/train.jsonl        chat rows to fine-tune on (messages: user → assistant)
    bench/tasks/<task>/train-pairs.jsonl  the same prompts as pairs (prompt, chosen, rejected) for DPO/ORPO
    bench/tasks/<task>/heldout.jsonl      rows never trained on, scored by the Evaluate worker

The score of a task is one of Evaluate's metrics, or, for a trait Evaluate has no metric for (the style task),
a check of each answer Evaluate wrote (`trait`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Task:
    name: str
    kind: str  # what users fine-tune for: "strict format", "style", "short factual QA"
    metric: str  # an Evaluate metric, or "trait"
    about: str  # one line: what a correct answer is
    trait: Callable[[str], bool] | None = None  # for metric "trait": does one answer have it

    def file(self, split: str) -> Path:
        return HERE / self.name / f"{split}.jsonl"

    def score_answer(self, answer: str) -> float:
        if self.trait is None:
            raise ValueError(f"task {self.name} is scored by Evaluate's {self.metric}")
        return float(self.trait(answer))


_ONE_SENTENCE = re.compile(r"^Aye, [^.!?\n]+, matey\.$")


def captain_trait(answer: str) -> bool:
    """One sentence that starts with "Aye, " and ends with ", matey." (nothing before or after it)."""
    return bool(_ONE_SENTENCE.match(answer.strip()))


TASKS: tuple[Task, ...] = (
    Task(
        "order-json",
        "strict format",
        "json_equal",
        'an order sentence → exactly {"customer", "item", "color", "quantity", "city"} as JSON',
    ),
    Task(
        "captain-style",
        "style",
        "trait",
        'one sentence that starts with "Aye, " and ends with ", matey."',
        captain_trait,
    ),
    Task(
        "notes-qa",
        "short factual QA",
        "exact_match_loose",
        "a short note and a question → only the exact value asked for",
    ),
)


def task(name: str) -> Task:
    for t in TASKS:
        if t.name == name:
            return t
    raise KeyError(f"unknown task {name!r}; known: {', '.join(t.name for t in TASKS)}")
