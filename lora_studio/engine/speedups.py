"""Speed-ups that keep the loss: batches without padding, FlashAttention and Liger kernels on CUDA, torch.compile
when it pays. Each choice is made here, from what the machine and the model can do, and said in one line of the
training log. The choices are plain functions of their inputs, so the CUDA ones are tested on a CPU machine.

- **Batches without padding** (TRL's padding-free collator): the rows of a batch are laid end to end in one
  sequence with position ids restarting at each row, so no padded position is computed. transformers builds the
  attention mask that keeps rows apart from those position ids for SDPA and eager attention (CPU and CUDA), and
  FlashAttention reads them as varlen boundaries. The loss is the same as with padding (tests/integration/
  test_speedups.py). With SDPA or eager attention the one long sequence's attention spans every pair of its
  tokens (masked), so a batch with little padding is cheaper padded: `LeastWorkCollator` picks per batch
  (measured on a CPU: rows of 60 tokens ±3, 4% padding, were 3% slower laid end to end; ±50, 33% padding,
  1.39× faster; rows of 200 ±30, 7% padding, 13% slower). FlashAttention computes each row on its own, so
  there every batch is laid end to end. TRL refuses `padding_free` with `max_length` unless packing, because it
  cannot know the rows are cut; ours are cut to `max_length` when the dataset is tokenised, so the collator is
  replaced after the trainer is built.
- **FlashAttention 2** on CUDA with 16-bit weights when `flash_attn` is installed; SDPA otherwise.
- **Liger kernels** (`use_liger_kernel`) on CUDA when `liger_kernel` is installed (Triton: no CPU kernels).
- **Only the labelled positions through the output layer** on a CPU: TRL's fused LM head projects only the positions
  whose next token is trained on (the assistant's reply) where Triton runs, and every position elsewhere, so that
  compilers see one tile shape; an eager CPU run has no such reason, and a chat row's prompt is often half its tokens
  (measured: 1.20-1.38× real tokens/s on the quality tasks and a wide-spread file, bench real-tokens). Exact: the
  same per-token log-probs, so the same loss and adapter.
- **torch.compile**: `always`, `never`, or `auto`, which compiles only when a compiled run of the same settings on this
  machine has shown that this run is long enough to repay the compile time (lora_studio.calibration keeps both
  speeds and the compile time).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from dataclasses import dataclass
from typing import Any

from lora_studio import calibration
from lora_studio.calibration import Calibration
from lora_studio.config import RunConfig
from lora_studio.engine import distributed

log = logging.getLogger(__name__)

# transformers derives the row boundaries of a padding-free batch from its position ids for these.
PACKED_ROWS_ATTENTION = ("sdpa", "eager", "flash_attention_2", "flash_attention_3")
COMPILE_MARGIN = 1.2  # auto compiles when the time it saves is at least this many times the compile time


@dataclass(frozen=True)
class Choice:
    on: bool
    why: str  # one plain sentence for the training log

    def line(self, what: str) -> str:
        return f"{what}: {'on' if self.on else 'off'} ({self.why})"


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def padding_free(cfg: RunConfig, attention: str | None) -> Choice:
    """Whether this run's batches are laid end to end without padding."""
    if cfg.training.padding_free == "never":
        return Choice(False, "turned off in the settings")
    if cfg.training.method != "sft":
        return Choice(False, "preference training pads its pairs of answers")
    if attention not in PACKED_ROWS_ATTENTION:
        return Choice(False, f"the model's attention ({attention}) cannot keep rows apart in one sequence")
    if int(cfg.training.batch_size) < 2:
        return Choice(False, "one row per batch has no padding to remove")
    how = "every batch" if attention in ("flash_attention_2", "flash_attention_3") else "batches where it saves work"
    return Choice(True, f"{how}: rows laid end to end, {attention} attention keeps them apart")


# The masked attention of one long sequence costs this many times (layers x hidden size / parameters) per pair of
# tokens, relative to a token's share of the rest of the step: fitted to the CPU measurements in the module's notes
# (SmolLM2-135M, SDPA); 0 for FlashAttention, which never computes pairs across rows.
PAIR_COST = 3.4


def pair_cost(attention: str | None, layers: int, hidden: int, parameters: int) -> float:
    """The cost of one pair of tokens in a sequence's attention, in units of one token's cost in the rest."""
    if attention in ("flash_attention_2", "flash_attention_3"):
        return 0.0
    return PAIR_COST * layers * hidden / max(parameters, 1)


@dataclass
class LeastWorkCollator:
    """TRL's collator, padded or laid end to end, whichever costs less for each batch (the same loss either way):
    padded, a batch costs rows x longest x (1 + a x longest); end to end, tokens x (1 + a x tokens)."""

    padded: Any
    pair_cost: float
    flat: Any = None

    def __post_init__(self) -> None:
        if not hasattr(self.padded, "padding_free"):
            raise TypeError(f"{type(self.padded).__name__} has no padding-free mode")
        self.flat = dataclasses.replace(self.padded, padding_free=True)

    def end_to_end(self, lengths: list[int]) -> bool:
        a, tokens, longest = self.pair_cost, sum(lengths), max(lengths, default=0)
        return tokens * (1 + a * tokens) < len(lengths) * longest * (1 + a * longest)

    def __call__(self, examples: list[dict]) -> dict:
        lengths = [len(e["input_ids"]) for e in examples]
        return (self.flat if self.end_to_end(lengths) else self.padded)(examples)


def use_padding_free(trainer, pair_cost: float) -> None:
    """Give the SFT trainer (its training and held-out batches) the collator that lays rows end to end."""
    trainer.data_collator = LeastWorkCollator(trainer.data_collator, pair_cost)


def attention_implementation(device: str, sixteen_bit: bool, flash_installed: bool) -> str | None:
    """The attention to load the model with: FlashAttention 2 on CUDA in 16-bit when installed, else the default
    (None: transformers picks SDPA where the model supports it)."""
    if device == "cuda" and sixteen_bit and flash_installed:
        return "flash_attention_2"
    return None


def liger(device: str, liger_installed: bool) -> Choice:
    if device != "cuda":
        return Choice(False, "Liger's kernels are for CUDA GPUs")
    if not liger_installed:
        return Choice(False, "liger-kernel is not installed (pip install liger-kernel)")
    return Choice(True, "fused kernels for RMSNorm, RoPE, SwiGLU and the loss")


def labelled_only(device: str, compiled: bool) -> Choice:
    """Whether the output layer projects only the positions that have a label (see the module's notes)."""
    if device != "cpu":
        on = device in ("cuda", "xpu") and installed("triton")
        return Choice(on, "TRL's own choice: only the labelled positions where Triton runs")
    if compiled:
        return Choice(False, "compiled: a changing number of positions would be compiled again and again")
    return Choice(True, "the prompt's positions are not trained on: the output layer skips them")


def project_labelled_only(on: bool) -> bool:
    """Make TRL's fused LM head (trl.trainer.utils.add_fused_lm_head, used by SFT and DPO) project only the labelled
    positions on a CPU too (`on`), or as TRL ships. Its switch is `_use_triton(device)`, looked up in
    trl.trainer.utils each time the head runs and used there for this alone; the kernel picks its own tiles from its
    own module's. Process-wide, so only in a worker. False when this TRL has no such switch."""
    import trl.trainer.utils as trl_utils

    current = getattr(trl_utils, "_use_triton", None)
    if current is None:
        return False
    if current is not _compact:
        _TRL_SWITCH[:] = [current]
    trl_utils._use_triton = _compact if on else _TRL_SWITCH[0]
    return True


_TRL_SWITCH: list = []  # TRL's own switch, kept when replaced


def _compact(device) -> bool:
    return _TRL_SWITCH[0](device) or device.type == "cpu"


def choose_labelled_only(device: str, compiled: bool) -> bool:
    """Set the output layer's choice for this run (see `labelled_only`) and say it in the log."""
    choice = labelled_only(device, compiled)
    if device == "cpu" and not project_labelled_only(choice.on) and choice.on:
        choice = Choice(False, "this TRL has no switch for it: every position goes through the output layer")
    if distributed.is_main():
        log.info("%s", choice.line("output layer on the labelled positions only"))
    return choice.on


def compile_choice(
    setting: str, planned_steps: int, eager: Calibration | None, compiled: Calibration | None, compile_s: float
) -> Choice:
    """Whether to run the model through torch.compile. `auto` needs both speeds of these settings on this machine
    (the eager one from Measure speed or a run, the compiled one and its compile time from a compiled run)."""
    if setting == "always":
        return Choice(True, "turned on in the settings")
    if setting == "never":
        return Choice(False, "turned off in the settings")
    if compiled is None:
        return Choice(False, "auto: no compiled run of these settings on this machine yet to show it pays")
    if eager is None:
        return Choice(False, "auto: the speed without compiling is not measured yet (Measure speed)")
    saved = eager.sec_per_step - compiled.sec_per_step
    if saved <= 0:
        return Choice(
            False,
            f"auto: compiled steps were not faster here ({compiled.sec_per_step:.2f} s vs "
            f"{eager.sec_per_step:.2f} s per step)",
        )
    pays_after = int(COMPILE_MARGIN * compile_s / saved) + 1
    if planned_steps < pays_after:
        return Choice(
            False, f"auto: compiling ({compile_s:.0f} s) pays after {pays_after} steps, this run has {planned_steps}"
        )
    return Choice(
        True,
        f"auto: {compiled.sec_per_step:.2f} s instead of {eager.sec_per_step:.2f} s per step, "
        f"compiling ({compile_s:.0f} s) pays after {pays_after} of {planned_steps} steps",
    )


def compile_for(cfg: RunConfig, planned_steps: int) -> bool:
    """training.compile for this run: on, off, or auto from the compiled and eager speeds measured before."""
    from lora_studio.engine.preflight import device_label

    label = device_label()
    compiled = calibration.lookup(calibration.key_for(cfg, label, compiled=True))
    choice = compile_choice(
        str(cfg.training.compile),
        planned_steps,
        calibration.lookup(calibration.key_for(cfg, label)),
        compiled,
        compiled.compile_s if compiled else 0.0,
    )
    if distributed.is_main():
        log.info("%s", choice.line("torch.compile"))
    return choice.on


def choose_padding_free(trainer, cfg: RunConfig, peft_model) -> bool:
    """Batches without padding where padding_free says so (SFT only); the choice goes to the log."""
    config = peft_model.config
    attention = getattr(config, "_attn_implementation", None)
    choice = padding_free(cfg, attention)
    if choice.on:
        _, parameters = peft_model.get_nb_trainable_parameters()
        layers, hidden = getattr(config, "num_hidden_layers", 1), getattr(config, "hidden_size", 1)
        use_padding_free(trainer, pair_cost(attention, layers, hidden, parameters))
    if distributed.is_main():
        log.info("%s", choice.line("batches without padding"))
    return choice.on
