"""FLOPs accounting for LoRA training and the machine's measured matmul peak."""

from __future__ import annotations

import json
import statistics
import time


def matmul_peak(dtype: str = "float32", n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an n×n @ n×n matmul in `dtype` with torch's default threads (as the worker uses)."""
    import torch

    dt = getattr(torch, dtype)
    a, b = torch.randn(n, n, dtype=dt), torch.randn(n, n, dtype=dt)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * n**3 / statistics.median(times) / 1e9


def flops_per_token(record) -> dict:
    """Training FLOPs per non-padding token of a LoRA run (frozen base, trainable adapter).

    frozen weights: 2N forward + 2N backward (gradients of the activations only, no weight
    gradients) = 4N; adapter weights: 6 N_lora; attention scores and values: 4·L·d·s forward,
    twice that backward = 12·L·d·s with s the mean real sequence length (counted as full, not
    causal-halved). N counts every weight used in a matmul (the tied lm_head once, the embedding
    lookup not at all: with tied weights that is the model's parameter count).
    """
    from lora_studio.config import RunConfig

    cfg = RunConfig.load(record.paths.config)
    model_dir = _model_dir(cfg.model.name_or_path)
    conf = json.loads((model_dir / "config.json").read_text())
    layers, hidden = conf["num_hidden_layers"], conf["hidden_size"]
    lora = record.trainable_params
    frozen = record.total_params - lora
    rows = record.rows
    tokens_per_step = (rows[-1]["num_tokens"] - rows[0]["num_tokens"]) / (rows[-1]["step"] - rows[0]["step"])
    seq = tokens_per_step / (cfg.training.batch_size * cfg.training.gradient_accumulation)
    total = 4 * frozen + 6 * lora + 12 * layers * hidden * seq
    return {
        "total": total,
        "formula": f"4·N + 6·N_lora + 12·L·d·s with N = {frozen / 1e6:.1f} M, "
        f"N_lora = {lora / 1e6:.2f} M, L = {layers}, d = {hidden}, s = {seq:.0f} (mean real length)",
    }


def _model_dir(name: str):
    from pathlib import Path

    from lora_studio.engine.models import resolve_model_dir
    from lora_studio.modelref import parse_model_ref

    return Path(resolve_model_dir(parse_model_ref(name)))
