"""What a run will cost, as numbers: training rows after the split, optimizer steps, memory, a rough time per step
and the token statistics of a data file. No gradio, no torch: the engine measures the model (`ModelFacts`) and
tokenizes the rows (`TokenStats`, filled by engine.preview); the dashboard and the CLI put these numbers into words.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from lora_studio.config import PREFERENCE_METHODS, RunConfig
from lora_studio.dataset_rows import load_dataset_file, split_indices
from lora_studio.errors import StudioError
from lora_studio.messages import text

# Activation memory per token per layer, in hidden-size units: ~16 saved tensors of the hidden width in a
# transformer block (attention inputs/outputs, MLP with its 4x intermediate, norms); with gradient
# checkpointing only the layer input stays, plus one layer recomputed at a time.
ACTIVATION_FACTOR = 16
CHECKPOINTED_FACTOR = 2
CHARS_PER_TOKEN = 4  # for the rough speed estimate only
DROP_REASONS_SHOWN = 5


@dataclass(frozen=True)
class ModelFacts:
    """Shapes and counts the estimates need, found by the engine (engine.preflight.inspect); plain numbers."""

    model: str
    trainable_params: int  # what peft's print_trainable_parameters reports ...
    all_params: int  # ... and its "all params" (base plus adapter)
    base_params: int
    quantizable_params: int  # weights of the linear layers 8-bit loading converts (all but the output head)
    hidden_size: int
    num_layers: int
    vocab_size: int
    device: str  # label, e.g. "cpu" or "cuda:NVIDIA H100 80GB HBM3"
    dtype_bytes: int  # bytes per weight in the chosen (resolved) dtype
    device_memory: int | None  # bytes of GPU memory, or of RAM on CPU
    assumed_flops: float  # what the rough time per step divides by: measured on this machine, else assumed
    flops_runs: int = 0  # how many measured speeds on this machine `assumed_flops` comes from (0: assumed)


# ---- rows and steps ----------------------------------------------------------------------------------------
@dataclass
class RowCount:
    train_rows: int
    mean_tokens: float  # rough: characters / CHARS_PER_TOKEN, capped at max_length
    data_format: str = ""  # as detected in the file (the method must suit it: config_checks.format_issues)


@lru_cache(maxsize=8)
def _count(
    path: str, stamp: tuple, fmt: str, columns: str, eval_fraction: float, seed: int, max_length: int
) -> RowCount:
    data = load_dataset_file(path, fmt, json.loads(columns))
    train_idx, _ = split_indices(len(data.rows), eval_fraction, seed)
    # The row as JSON: its keys and quotes stand in for the chat template's own tokens.
    lengths = [min(len(json.dumps(data.rows[i], ensure_ascii=False)) / CHARS_PER_TOKEN, max_length) for i in train_idx]
    return RowCount(len(train_idx), sum(lengths) / len(lengths) if lengths else 0.0, data.format)


def count_train_rows(cfg: RunConfig) -> RowCount | None:
    """Training rows after the eval split (as the Data tab and training split them); None without data."""
    d = cfg.data
    if not d.path:
        return None
    try:
        st = Path(d.path).stat()
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


def batches_per_epoch(train_rows: int, cfg: RunConfig) -> int:
    """Batches each process takes per epoch: each has its own share of the rows (DDP's distributed sampler)."""
    t = cfg.training
    return math.ceil(math.ceil(train_rows / max(int(t.num_processes), 1)) / t.batch_size)


def optimizer_steps(train_rows: int, cfg: RunConfig) -> int:
    """Total optimizer steps, computed the way transformers' Trainer does."""
    t = cfg.training
    if t.max_steps > 0:
        return int(t.max_steps)
    if train_rows <= 0:
        return 0
    per_epoch = max(math.ceil(batches_per_epoch(train_rows, cfg) / t.gradient_accumulation), 1)
    return math.ceil(t.num_epochs * per_epoch)


# ---- memory and time ---------------------------------------------------------------------------------------
@dataclass
class MemoryEstimate:
    weights: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.optimizer + self.activations


def activation_factor(cfg: RunConfig) -> int:
    return CHECKPOINTED_FACTOR if cfg.training.gradient_checkpointing else ACTIVATION_FACTOR


# Bytes per linear weight of a quantized base: 8-bit is one byte; nf4 is half a byte plus its scales (one fp32
# per 64 weights, themselves quantized to 8-bit with double quantization: about 0.127 bits per weight).
QUANTIZED_BYTES = {"8-bit": 1.0, "4-bit": 0.5 + 0.127 / 8}
# DoRA recomputes each adapted layer's weight norm every step: 1.47x the LoRA step on SmolLM2, 2 CPU cores
# (bench/preference_train.py, docs/BENCHMARKS.md 'methods').
DORA_TIME_FACTOR = 1.5


def sequences_per_row(cfg: RunConfig) -> int:
    """DPO and ORPO run every row twice: the prompt with the chosen answer, and with the rejected one."""
    return 2 if cfg.training.method in PREFERENCE_METHODS else 1


def estimate_memory(cfg: RunConfig, facts: ModelFacts) -> MemoryEstimate:
    """Bytes: frozen weights (8-bit linear weights take 1 byte, 4-bit about half) + fp32 adapter, AdamW,
    activations + logits (two sequences per row for preference methods; DPO's reference pass keeps nothing for
    the backward pass, so it adds no activations)."""
    quantized = cfg.model.quantized
    if quantized:
        linear = facts.quantizable_params * QUANTIZED_BYTES[quantized]
        base = linear + (facts.base_params - facts.quantizable_params) * facts.dtype_bytes
    else:
        base = facts.base_params * facts.dtype_bytes
    weights = base + facts.trainable_params * 4
    optimizer = facts.trainable_params * (2 * 4 + 4)  # two fp32 AdamW states + an fp32 gradient
    tokens = cfg.training.batch_size * cfg.data.max_length * sequences_per_row(cfg)
    hidden = tokens * facts.hidden_size * facts.num_layers * activation_factor(cfg) * facts.dtype_bytes
    logits = tokens * facts.vocab_size * 4 * 2  # fp32 logits and their gradient
    return MemoryEstimate(int(weights), int(optimizer), int(hidden + logits))


def _work_per_token(cfg: RunConfig, all_params: int) -> float:
    """FLOPs per trained token, as the rough model counts them: (4 + 2 with checkpointing + 2 for DPO's reference
    pass) x parameters, DoRA's weight-norm overhead on top."""
    passes = 6 if cfg.training.gradient_checkpointing else 4
    if cfg.training.method == "dpo":
        passes += 2  # a forward pass of the reference (the adapter switched off) on both answers
    return passes * all_params * (DORA_TIME_FACTOR if cfg.lora.use_dora is True else 1.0)


def rough_sec_per_step(cfg: RunConfig, facts: ModelFacts, mean_tokens: float | None) -> float:
    """The rough model's FLOPs per token x tokens per optimizer step, at the device's FLOP/s (`assumed_flops`);
    preference methods count two sequences per row."""
    per_row = (mean_tokens if mean_tokens else cfg.data.max_length) * sequences_per_row(cfg)
    tokens = cfg.training.batch_size * cfg.training.gradient_accumulation * per_row
    return _work_per_token(cfg, facts.all_params) * tokens / facts.assumed_flops


def effective_flops(cfg: RunConfig, all_params: int, tokens_per_sec: float) -> float:
    """The FLOP/s the rough model would need to reach a measured speed: what a measurement of one setting teaches
    the rough estimate of every other setting on the same machine."""
    return _work_per_token(cfg, all_params) * tokens_per_sec


# ---- token statistics --------------------------------------------------------------------------------------
@dataclass
class TokenStats:
    """What engine.preview measures over a data file's rows, tokenized as training will (plain numbers)."""

    lengths: list[int]
    max_length: int
    truncated: int
    dropped: int
    learned_tokens: int
    rows_measured: int
    rows_total: int
    drop_reasons: list[str] = field(default_factory=list)
    rejected_lengths: list[int] = field(default_factory=list)  # pairs of answers: prompt+rejected (lengths: +chosen)


def every_row_too_long(stats: TokenStats) -> bool:
    return bool(stats.lengths) and stats.truncated == stats.rows_measured


def token_lines(stats: TokenStats) -> list[str]:
    """The statistics in sentences from the catalogue (Markdown bold; the CLI prints them without it)."""
    if not stats.lengths:
        return [text("tokens.no_rows")]
    sampled = (
        text("tokens.sampled", measured=f"{stats.rows_measured:,}", total=f"{stats.rows_total:,}")
        if stats.rows_measured < stats.rows_total
        else ""
    )
    lines = [
        text(
            "tokens.per_row",
            sampled=sampled,
            median=f"{statistics.median(stats.lengths):.0f}",
            longest=f"{max(stats.lengths):,}",
            learned=f"{stats.learned_tokens:,}",
        )
    ]
    if stats.rejected_lengths:  # pairs of answers: the line above measured prompt + chosen answer
        lines[0] = text(
            "tokens.per_pair",
            sampled=sampled,
            median=f"{statistics.median(stats.lengths):.0f}",
            longest=f"{max(stats.lengths):,}",
            rejected_median=f"{statistics.median(stats.rejected_lengths):.0f}",
            rejected_longest=f"{max(stats.rejected_lengths):,}",
            learned=f"{stats.learned_tokens:,}",
        )
    if stats.truncated:
        lines.append(text("tokens.truncated", count=f"{stats.truncated:,}", max_length=stats.max_length))
    else:
        lines.append(text("tokens.none_truncated", max_length=stats.max_length))
    if stats.dropped:
        reasons = "; ".join(stats.drop_reasons[:DROP_REASONS_SHOWN]) + (
            " …" if stats.dropped > DROP_REASONS_SHOWN else ""
        )
        lines.append(text("tokens.dropped", count=f"{stats.dropped:,}", reasons=reasons))
    if every_row_too_long(stats):
        lines.append(text("tokens.all_long", max_length=stats.max_length))
    if stats.dropped == stats.rows_measured:
        lines.append(text("tokens.nothing_left"))
    return lines
