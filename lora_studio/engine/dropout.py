"""A cheaper LoRA dropout for CPU training: the same dropout, with its random numbers drawn four at a time.

Profiling a quick-start step of the embedded model on a CPU (bench/train_throughput.py) put 17% of the
step in `aten::bernoulli_`: peft gives each of the 210 adapted layers its own `nn.Dropout`, and a CPU
draws one 32-bit random number per element of its input. `BitsDropout` keeps an element when a
uniform 16-bit integer clears a threshold, and gets four such integers from each 64-bit draw.

It is the same operation in distribution: each element is zeroed independently with probability
p' = round(p · 65536) / 65536 (within 7.7e-6 of p) and the kept ones are scaled by 1 / (1 - p'),
so the expected output equals the input, as with `nn.Dropout`. It draws from torch's generator, so a
seeded run repeats itself. GPUs already fuse their dropout, so it is only installed on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

_LEVELS = 1 << 16
_FULL_RANGE_FROM = -(1 << 63)  # random_(from=int64 min, to=None) draws all 64 bits


def representable(p: float) -> float:
    """The dropout rate BitsDropout really applies for a requested `p`."""
    return round(p * _LEVELS) / _LEVELS


class BitsDropout(nn.Module):
    """nn.Dropout(p) with masks from 16-bit random integers; the identity outside training."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        dropped = round(p * _LEVELS)
        if dropped >= _LEVELS:
            raise ValueError(f"dropout probability {p} rounds to 1 at 16-bit resolution")
        self.p = p
        # int16 values are uniform on [-32768, 32767]: exactly `dropped` of the 65536 lie below this.
        self.threshold = dropped - _LEVELS // 2
        self.scale = _LEVELS / (_LEVELS - dropped)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == -(_LEVELS // 2):
            return x
        n = x.numel()
        draws = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_(_FULL_RANGE_FROM, None)
        keep = draws.view(torch.int16)[:n].view(x.shape) >= self.threshold
        return x * keep.to(x.dtype).mul_(self.scale)

    def extra_repr(self) -> str:
        return f"p={self.p} (applied {representable(self.p):.6f})"


def install(model: nn.Module) -> int:
    """Swap every active LoRA dropout (peft's `lora_dropout` dicts of nn.Dropout) for BitsDropout.

    Dropout holds no weights, so the adapter, its saved config (`lora_dropout` = p) and checkpoints are
    unchanged. Returns how many layers were swapped."""
    swapped = 0
    for module in model.modules():
        dropouts = getattr(module, "lora_dropout", None)
        if not isinstance(dropouts, nn.ModuleDict):
            continue
        for name, layer in list(dropouts.items()):
            if type(layer) is nn.Dropout and layer.p > 0.0 and round(layer.p * _LEVELS) < _LEVELS:
                dropouts[name] = BitsDropout(layer.p)
                swapped += 1
    return swapped
