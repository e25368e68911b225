from __future__ import annotations

import json
from pathlib import Path

import torch

from lora_studio.config import RunConfig, apply_overrides
from lora_studio.runs import RunPaths, create_run

PROBE = "<|im_start|>user\nWhat is 12 plus 30?<|im_end|>\n<|im_start|>assistant\n"


def tiny_config(model_dir: Path, data: Path, *overrides: str, base: RunConfig | None = None) -> RunConfig:
    """Fast settings for the tiny model: a handful of steps, a log row every step."""
    defaults = [
        f"model.name_or_path={model_dir}",
        f"data.path={data}",
        "training.max_steps=6",
        "training.logging_steps=1",
        "training.learning_rate=0.005",
        "training.batch_size=4",
        "data.max_length=128",
        "lora.r=4",
        "lora.alpha=8",
        "lora.dropout=0.0",
    ]
    return apply_overrides(base or RunConfig(), [*defaults, *overrides])


def new_run(tmp_path: Path, cfg: RunConfig, name: str = "run") -> RunPaths:
    paths = RunPaths(tmp_path / name)
    create_run(paths, cfg)
    return paths


@torch.no_grad()
def logits(model, tokenizer, text: str = PROBE) -> torch.Tensor:
    model.eval()
    batch = tokenizer(text, return_tensors="pt")
    return model(**batch).logits.float()


def chart_x(value: object) -> list | None:
    """The x values of a Train tab chart's first trace as the page gets it (PlotData from a redraw, its dict from the
    live stream); None when the chart was not sent (skipped) or cleared."""
    plot = value.get("plot") if isinstance(value, dict) else getattr(value, "plot", None)
    if not isinstance(plot, str):
        return None
    traces = json.loads(plot).get("data") or [{}]
    return list(traces[0].get("x") or [])
