"""The Config tab's pre-flight panel, as plain values: training rows after the split, optimizer steps, memory
and time estimates from numbers the engine found (`ModelFacts`). No gradio, no torch."""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from lora_studio.calibration import Calibration
from lora_studio.config import RunConfig
from lora_studio.dataset_rows import load_dataset_file, split_indices
from lora_studio.errors import StudioError
from lora_studio.messages import text

if TYPE_CHECKING:  # the engine imports torch; the UI only reads the numbers
    from lora_studio.engine.preflight import ModelFacts

# Activation memory per token per layer, in hidden-size units: ~16 saved tensors of the hidden width in a
# transformer block (attention inputs/outputs, MLP with its 4x intermediate, norms); with gradient
# checkpointing only the layer input stays, plus one layer recomputed at a time.
ACTIVATION_FACTOR = 16
CHECKPOINTED_FACTOR = 2
CHARS_PER_TOKEN = 4  # for the rough speed estimate only


@dataclass
class RowCount:
    train_rows: int
    mean_tokens: float  # rough: characters / CHARS_PER_TOKEN, capped at max_length


@lru_cache(maxsize=8)
def _count(
    path: str, stamp: tuple, fmt: str, columns: str, eval_fraction: float, seed: int, max_length: int
) -> RowCount:
    data = load_dataset_file(path, fmt, json.loads(columns))
    train_idx, _ = split_indices(len(data.rows), eval_fraction, seed)
    # The row as JSON: its keys and quotes stand in for the chat template's own tokens.
    lengths = [min(len(json.dumps(data.rows[i], ensure_ascii=False)) / CHARS_PER_TOKEN, max_length) for i in train_idx]
    return RowCount(len(train_idx), sum(lengths) / len(lengths) if lengths else 0.0)


def count_train_rows(cfg: RunConfig) -> RowCount | None:
    """Training rows after the eval split (as the Data tab and training split them); None without data."""
    d = cfg.data
    if not d.path:
        return None
    try:
        st = os.stat(d.path)
        return _count(
            d.path,
            (st.st_mtime_ns, st.st_size),
            d.format,
            json.dumps(d.columns, sort_keys=True),
            float(d.eval_fraction),
            int(cfg.training.seed),
            int(d.max_length),
        )
    except (OSError, StudioError, TypeError, ValueError):
        return None  # the Data tab explains a file that cannot be read


def optimizer_steps(train_rows: int, cfg: RunConfig) -> int:
    """Total optimizer steps, computed the way transformers' Trainer does."""
    t = cfg.training
    if t.max_steps > 0:
        return int(t.max_steps)
    if train_rows <= 0:
        return 0
    # Each of the processes takes its own share of the rows (DDP's distributed sampler).
    batches = math.ceil(math.ceil(train_rows / max(int(t.num_processes), 1)) / t.batch_size)
    per_epoch = max(math.ceil(batches / t.gradient_accumulation), 1)
    return math.ceil(t.num_epochs * per_epoch)


@dataclass
class MemoryEstimate:
    weights: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.optimizer + self.activations


def estimate_memory(cfg: RunConfig, facts: ModelFacts) -> MemoryEstimate:
    """Bytes: frozen weights (8-bit linear weights take 1 byte) + fp32 adapter, AdamW, activations + logits."""
    if cfg.model.load_in_8bit:
        base = facts.quantizable_params + (facts.base_params - facts.quantizable_params) * facts.dtype_bytes
    else:
        base = facts.base_params * facts.dtype_bytes
    weights = base + facts.trainable_params * 4
    optimizer = facts.trainable_params * (2 * 4 + 4)  # two fp32 AdamW states + an fp32 gradient
    tokens = cfg.training.batch_size * cfg.data.max_length
    factor = CHECKPOINTED_FACTOR if cfg.training.gradient_checkpointing else ACTIVATION_FACTOR
    hidden = tokens * facts.hidden_size * facts.num_layers * factor * facts.dtype_bytes
    logits = tokens * facts.vocab_size * 4 * 2  # fp32 logits and their gradient
    return MemoryEstimate(int(weights), int(optimizer), int(hidden + logits))


def rough_sec_per_step(cfg: RunConfig, facts: ModelFacts, mean_tokens: float | None) -> float:
    """(4 + 2 with checkpointing) x parameters x tokens per optimizer step, at the device's assumed FLOP/s."""
    per_row = mean_tokens if mean_tokens else cfg.data.max_length
    tokens = cfg.training.batch_size * cfg.training.gradient_accumulation * per_row
    passes = 6 if cfg.training.gradient_checkpointing else 4
    return passes * facts.all_params * tokens / facts.assumed_flops


def format_bytes(n: float) -> str:
    power = min(int(math.log(max(n, 1), 1024)), 3)
    return f"{n:,.0f} B" if power == 0 else f"{n / 1024**power:,.1f} {('KB', 'MB', 'GB')[power - 1]}"


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def _steps_md(cfg: RunConfig, rows: RowCount | None) -> tuple[str, int | None]:
    t = cfg.training
    if t.max_steps > 0:
        return f"**{t.max_steps:,} optimizer steps** (max_steps; epochs ignored)", int(t.max_steps)
    if rows is None:
        return "Steps: choose a dataset on the Data tab to count them.", None
    steps = optimizer_steps(rows.train_rows, cfg)
    processes = max(int(t.num_processes), 1)
    batches = math.ceil(math.ceil(rows.train_rows / processes) / t.batch_size)
    share = f" ÷ {processes} processes" if processes > 1 else ""
    return (
        f"**{steps:,} optimizer steps**: {rows.train_rows:,} training rows{share} ÷ batch {t.batch_size} = "
        f"{batches:,} batches, ÷ accumulation {t.gradient_accumulation} per step, "
        f"× {t.num_epochs:g} epoch(s)"
    ), steps


def eta_md(
    cfg: RunConfig, facts: ModelFacts, steps: int | None, rows: RowCount | None, calibration: Calibration | None
) -> str:
    if steps is None:
        return "**ETA:** needs the step count (choose a dataset)."
    extra = " Evaluation passes add to this." if cfg.data.eval_fraction > 0 else ""
    if calibration is not None:
        return (
            f"**ETA ~ {format_duration(steps * calibration.sec_per_step)}** (measured on {calibration.date}: "
            f"{calibration.sec_per_step:.2f} s/step, {calibration.tokens_per_sec:,.0f} tokens/s).{extra}"
        )
    rough = rough_sec_per_step(cfg, facts, rows.mean_tokens if rows else None)
    return (
        f"**ETA ~ {format_duration(steps * rough)} — rough, not measured** (~{rough:.2f} s/step from the model "
        f"size, ~{CHARS_PER_TOKEN} characters per token and an assumed {facts.assumed_flops / 1e9:,.0f} GFLOP/s "
        f"on {facts.device}). Press **Measure speed** for a real figure.{extra}"
    )


def preflight_md(
    cfg: RunConfig, facts: ModelFacts | None, rows: RowCount | None, calibration: Calibration | None
) -> str:
    if facts is None:
        return text("preflight.waiting")
    share = 100 * facts.trainable_params / max(facts.all_params, 1)
    mem = estimate_memory(cfg, facts)
    factor = CHECKPOINTED_FACTOR if cfg.training.gradient_checkpointing else ACTIVATION_FACTOR
    kind = "preflight.gpu_memory" if facts.device != "cpu" else "preflight.ram"
    available = text(kind, size=format_bytes(facts.device_memory)) if facts.device_memory else ""
    warn = text("preflight.too_big") if facts.device_memory and mem.total > facts.device_memory else ""
    steps_text, steps = _steps_md(cfg, rows)
    how = {
        "weights": text(
            "preflight.how.weights_8bit" if cfg.model.load_in_8bit else "preflight.how.weights", bytes=facts.dtype_bytes
        ),
        "optimizer": text("preflight.how.optimizer"),
        "activations": text(
            "preflight.how.activations",
            batch=cfg.training.batch_size,
            tokens=cfg.data.max_length,
            hidden=facts.hidden_size,
            layers=facts.num_layers,
            factor=factor,
        ),
    }
    rows_md = "".join(
        text(
            "preflight.memory_row",
            part=text(f"preflight.part.{part}"),
            size=format_bytes(size),
            how=_attribute(how[part]),
        )
        for part, size in (("weights", mem.weights), ("optimizer", mem.optimizer), ("activations", mem.activations))
    )
    return (
        text(
            "preflight.trainable",
            count=f"{facts.trainable_params:,}",
            short=human_count(facts.trainable_params),
            share=f"{share:.2f}",
            total=human_count(facts.all_params),
            exact=facts.trainable_params,
        )
        + "\n\n"
        + text("preflight.memory_title", device=facts.device)
        + "\n\n"
        + text("preflight.memory_head")
        + rows_md
        + text("preflight.memory_total", size=format_bytes(mem.total), available=available)
        + warn
        + f"\n\n{steps_text}\n\n{eta_md(cfg, facts, steps, rows, calibration)}"
    )


def human_count(count: int) -> str:
    """2,442,240 → '2.4 M'; 135,736,128 → '136 M'; 2,000,000,000 → '2.0 B'."""
    for unit, size in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return str(count)


def _attribute(words: str) -> str:
    return html.escape(words, quote=True)
