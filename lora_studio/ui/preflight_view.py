"""The Config tab's pre-flight panel in words: training rows after the split, optimizer steps, memory and time,
from the numbers `lora_studio.estimates` computes (with `ModelFacts` the engine found). No gradio, no torch."""

from __future__ import annotations

import html
import math

from lora_studio.calibration import Calibration
from lora_studio.config import RunConfig
from lora_studio.estimates import (
    ACTIVATION_FACTOR,
    CHARS_PER_TOKEN,
    ModelFacts,
    RowCount,
    activation_factor,
    batches_per_epoch,
    count_train_rows,
    estimate_memory,
    optimizer_steps,
    rough_sec_per_step,
    sequences_per_row,
)
from lora_studio.messages import text

# The Config tab reads the counts through this module (its one view of the pre-flight panel).
__all__ = ["ACTIVATION_FACTOR", "count_train_rows", "estimate_memory", "optimizer_steps", "preflight_md"]


def format_bytes(n: float) -> str:
    power = min(int(math.log(max(n, 1), 1024)), 3)
    return f"{n:,.0f} B" if power == 0 else f"{n / 1024**power:,.1f} {('KB', 'MB', 'GB')[power - 1]}"


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def _steps_md(cfg: RunConfig, rows: RowCount | None) -> tuple[str, int | None]:
    t = cfg.training
    if t.max_steps > 0:
        return text("preflight.steps_fixed", steps=t.max_steps), int(t.max_steps)
    if rows is None:
        return text("preflight.steps_no_data"), None
    steps = optimizer_steps(rows.train_rows, cfg)
    processes = max(int(t.num_processes), 1)
    batches = batches_per_epoch(rows.train_rows, cfg)
    share = text("preflight.steps_processes", processes=processes) if processes > 1 else ""
    return (
        text(
            "preflight.steps",
            steps=steps,
            rows=rows.train_rows,
            share=share,
            batch=t.batch_size,
            batches=batches,
            accumulation=t.gradient_accumulation,
            epochs=t.num_epochs,
        ),
        steps,
    )


def eta_md(
    cfg: RunConfig, facts: ModelFacts, steps: int | None, rows: RowCount | None, calibration: Calibration | None
) -> str:
    if steps is None:
        return text("preflight.eta_no_steps")
    extra = text("preflight.eta_eval") if cfg.data.eval_fraction > 0 else ""
    if calibration is not None:
        return text(
            "preflight.eta_measured",
            duration=format_duration(steps * calibration.sec_per_step),
            date=calibration.date,
            step_s=calibration.sec_per_step,
            speed=calibration.tokens_per_sec,
            extra=extra,
        )
    rough = rough_sec_per_step(cfg, facts, rows.mean_tokens if rows else None)
    return text(
        "preflight.eta_rough_machine" if facts.flops_runs else "preflight.eta_rough",
        duration=format_duration(steps * rough),
        step_s=rough,
        chars=CHARS_PER_TOKEN,
        gflops=facts.assumed_flops / 1e9,
        device=facts.device,
        runs=facts.flops_runs,
        extra=extra,
    )


def preflight_md(
    cfg: RunConfig, facts: ModelFacts | None, rows: RowCount | None, calibration: Calibration | None
) -> str:
    if facts is None:
        return text("preflight.waiting")
    share = 100 * facts.trainable_params / max(facts.all_params, 1)
    mem = estimate_memory(cfg, facts)
    kind = "preflight.gpu_memory" if facts.device != "cpu" else "preflight.ram"
    available = text(kind, size=format_bytes(facts.device_memory)) if facts.device_memory else ""
    warn = text("preflight.too_big") if facts.device_memory and mem.total > facts.device_memory else ""
    steps_text, steps = _steps_md(cfg, rows)
    how = {
        "weights": text(
            {"8-bit": "preflight.how.weights_8bit", "4-bit": "preflight.how.weights_4bit"}.get(
                cfg.model.quantized, "preflight.how.weights"
            ),
            bytes=facts.dtype_bytes,
        ),
        "optimizer": text("preflight.how.optimizer"),
        "activations": text(
            "preflight.how.activations",
            batch=cfg.training.batch_size,
            tokens=cfg.data.max_length,
            hidden=facts.hidden_size,
            layers=facts.num_layers,
            factor=activation_factor(cfg),
        )
        + (text("preflight.how.pairs") if sequences_per_row(cfg) > 1 else ""),
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
