"""The metrics row schema, shared by the writer (engine callback) and every reader (CLI, UI).

metrics.jsonl is append-only, one JSON object per log or eval event. Readers keep a byte
offset and leave a half-written last line for the next read.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

# What TRL's DPO and ORPO trainers log → MetricRow fields (the Train tab's preference panel).
PREFERENCE_LOGS = {
    "rewards/chosen": "reward_chosen",
    "rewards/rejected": "reward_rejected",
    "rewards/margins": "reward_margin",
    "rewards/accuracies": "reward_accuracy",
}


@dataclass
class MetricRow:
    """One log or eval event of a training run."""

    event: str  # "log" or "eval"
    step: int
    max_steps: int
    epoch: float | None = None
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    tokens_seen: int | None = None  # non-padding tokens trained on so far
    tokens_per_sec: float | None = None  # since the previous log row
    elapsed_s: float | None = None  # since training started
    eta_s: float | None = None
    time: float | None = None  # wall clock, seconds since the epoch
    # Preference training (DPO, ORPO), as TRL logs them: the implicit rewards of the chosen and rejected answers,
    # their difference, and the share of pairs whose chosen answer wins; eval_reward_accuracy on held-out pairs.
    reward_chosen: float | None = None
    reward_rejected: float | None = None
    reward_margin: float | None = None
    reward_accuracy: float | None = None
    eval_reward_accuracy: float | None = None

    def to_json(self) -> str:
        return json.dumps({k: _clean(v) for k, v in asdict(self).items()}, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> MetricRow:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _clean(value: object) -> object:
    # JSON has no NaN/inf; a diverged loss is written as null rather than breaking readers.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def append_row(path: str | Path, row: MetricRow) -> None:
    """Append one row as a single write so a reader never sees two rows interleaved."""
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(row.to_json() + "\n")
        fh.flush()


class MetricsReader:
    """Reads only the rows appended since the last call."""

    def __init__(self, path: str | Path, offset: int = 0) -> None:
        self.path = Path(path)
        self.offset = offset
        self.bad_lines = 0

    def read_new(self) -> list[MetricRow]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []  # nothing complete yet: a half-written line waits for its newline
        self.offset += end + 1
        rows = []
        for line in chunk[: end + 1].splitlines():
            if not line.strip():
                continue
            try:
                rows.append(MetricRow.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                self.bad_lines += 1  # a torn line from a crash: skip it, keep the rest
        return rows


def read_all(path: str | Path) -> list[MetricRow]:
    return MetricsReader(path).read_new()


def latest_per_step(rows: list[MetricRow]) -> list[MetricRow]:
    """One row per (event, step), the last written winning: a resumed run re-trains the steps after its
    checkpoint, and those rows replace the ones the earlier attempt wrote. Sorted by step."""
    latest: dict[tuple[str, int], MetricRow] = {}
    for row in rows:
        latest.pop((row.event, row.step), None)
        latest[(row.event, row.step)] = row
    return sorted(latest.values(), key=lambda r: (r.step, r.event != "log"))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_progress(row: MetricRow) -> str:
    """One human line per row, as the CLI prints it and the UI's log shows it."""
    width = len(str(row.max_steps))
    parts = [f"step {row.step:>{width}}/{row.max_steps}"]
    if row.event == "eval":
        parts.append(f"eval_loss {_num(row.eval_loss)}")
        if row.eval_reward_accuracy is not None:
            parts.append(f"chosen wins {row.eval_reward_accuracy:.0%}")
    else:
        parts.append(f"loss {_num(row.loss)}")
        if row.reward_margin is not None:  # DPO/ORPO: what they learn, beside the loss
            parts.append(f"margin {row.reward_margin:+.4f}")
            parts.append(f"chosen wins {row.reward_accuracy:.0%}" if row.reward_accuracy is not None else "")
        parts.append(f"lr {row.learning_rate:.2e}" if row.learning_rate is not None else "lr ?")
        parts.append(f"{row.tokens_per_sec:,.0f} tok/s" if row.tokens_per_sec else "? tok/s")
    parts.append(f"ETA {_duration(row.eta_s)}")
    return " | ".join(p for p in parts if p)


def _num(value: float | None) -> str:
    return "nan" if value is None else f"{value:.4f}"
