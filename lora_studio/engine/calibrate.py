"""Measure training speed for a config: `python -m lora_studio.engine.calibrate --config FILE --out FILE`.

Loads the model, builds the same peft model, datasets and SFT trainer the worker builds, runs a few
warm-up steps and then times a few more on the real data. The steps are batches: gradient accumulation off,
and the optimizer step's time is the batch's x gradient_accumulation (the optimizer's own share of a LoRA step
is small), so measuring takes the same few batches whatever the accumulation. Writes seconds per optimizer step
and tokens per second to --out (or an error with a hint) and stores the speed in the calibration cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shutil
import time
import traceback
from pathlib import Path

from lora_studio.calibration import key_for, record
from lora_studio.config import RunConfig
from lora_studio.errors import StudioError
from lora_studio.estimates import effective_flops
from lora_studio.launch import check_startable
from lora_studio.messages import remember_how_to_say_again
from lora_studio.runs import RunPaths, write_json_atomic

log = logging.getLogger("lora_studio.calibrate")


class StepClock:
    """Time and tokens seen at the end of each logged optimizer step."""

    def __init__(self) -> None:
        self.marks: list[tuple[int, float, float | None]] = []  # (global step, time, tokens seen)

    def mark(self, step: int, tokens: float | None) -> None:
        self.marks.append((step, time.perf_counter(), tokens))

    def speed(self, warmup: int) -> tuple[float, float]:
        """(seconds per step, tokens per second) over the steps after `warmup`."""
        timed = [m for m in self.marks if m[0] >= warmup]
        if len(timed) < 2:
            raise StudioError(f"Only {len(timed)} timed step(s) were recorded", "Measure again with more steps")
        (s0, t0, k0), (s1, t1, k1) = timed[0], timed[-1]
        sec_per_step = (t1 - t0) / (s1 - s0)
        tokens_per_sec = (k1 - k0) / (t1 - t0) if k0 is not None and k1 is not None else 0.0
        return sec_per_step, tokens_per_sec


def _clock_callback(clock: StepClock):
    import torch
    from transformers import TrainerCallback

    class _Callback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()  # the step's kernels are done before its time is taken
            # TRL logs num_tokens: non-padding tokens seen so far.
            tokens = (logs or {}).get("num_tokens", state.num_input_tokens_seen or None)
            if "loss" in (logs or {}):
                clock.mark(state.global_step, float(tokens) if tokens is not None else None)

    return _Callback()


def measure(cfg: RunConfig, folder: Path, warmup: int, steps: int) -> dict:
    """Time `steps` optimizer steps after `warmup` on the real data; returns the result written to --out."""
    import torch
    from trl import SFTTrainer

    from lora_studio.engine.dataset_build import build_datasets, loss_settings
    from lora_studio.engine.models import load_for_training
    from lora_studio.engine.preflight import device_label
    from lora_studio.engine.speedups import choose_labelled_only, choose_padding_free
    from lora_studio.engine.train import build_peft_model, make_sft_config

    # Measured without a logging tool (training.report_to): it would slow the timed steps, and need not be installed.
    cfg = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, report_to="none"))
    data = check_startable(cfg)
    accumulation = max(int(cfg.training.gradient_accumulation), 1)
    timed = dataclasses.replace(
        cfg,
        training=dataclasses.replace(
            cfg.training, max_steps=warmup + steps, logging_steps=1, save_steps=100_000, gradient_accumulation=1
        ),
    )
    log.info("loading model")
    model, tokenizer, device, _ = load_for_training(cfg.model)
    torch.manual_seed(int(cfg.training.seed))
    peft_model = build_peft_model(model, cfg)
    assistant_only, tokenizer.chat_template = loss_settings(tokenizer, data.format, cfg.data.assistant_only_loss)
    train_ds, _ = build_datasets(data, cfg.data, int(cfg.training.seed), tokenizer)
    paths = RunPaths(folder)
    clock = StepClock()
    choose_labelled_only(device, False)
    trainer = SFTTrainer(
        model=peft_model,
        args=make_sft_config(timed, paths, device, False, assistant_only),
        train_dataset=train_ds,
        processing_class=tokenizer,
        callbacks=[_clock_callback(clock)],
    )
    choose_padding_free(trainer, cfg, peft_model)
    log.info("timing %d batches after %d warm-up batches on %s", steps, warmup, device)
    try:
        trainer.train()
    finally:
        shutil.rmtree(paths.checkpoints, ignore_errors=True)
    sec_per_batch, tokens_per_sec = clock.speed(warmup)
    sec_per_step = sec_per_batch * accumulation
    label = device_label()
    _, all_params = peft_model.get_nb_trainable_parameters()
    record(key_for(cfg, label), sec_per_step, tokens_per_sec, flops=effective_flops(cfg, all_params, tokens_per_sec))
    log.info("%.3f s/step, %.0f tokens/s on %s", sec_per_step, tokens_per_sec, label)
    return {
        "sec_per_step": sec_per_step,
        "tokens_per_sec": tokens_per_sec,
        "device": label,
        "warmup": warmup,
        "steps": steps,
    }


def main(argv: list[str] | None = None) -> int:
    remember_how_to_say_again()  # the errors written into the status file can be said again on a page
    from lora_studio.engine.worker import configure_logging

    parser = argparse.ArgumentParser(prog="lora_studio.engine.calibrate", description=__doc__)
    parser.add_argument("--config", required=True, help="run config YAML (with data.path)")
    parser.add_argument("--out", required=True, help="JSON file for the result")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (compilation, caches)")
    parser.add_argument("--steps", type=int, default=3, help="timed optimizer steps")
    args = parser.parse_args(argv)
    configure_logging()
    out = Path(args.out)
    try:
        cfg = RunConfig.load(args.config)
        result = measure(cfg, out.parent, max(args.warmup, 1), max(args.steps, 1))
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the UI through --out
        from lora_studio.engine.worker import classify

        kind, message, hint = classify(exc)
        if kind == "internal":
            log.error("%s", traceback.format_exc())
        write_json_atomic(out, {"error": message, "hint": hint, "kind": kind})
        log.error("error: %s", message)
        return 1
    write_json_atomic(out, result)
    return 0


if __name__ == "__main__":
    from lora_studio.processes import exit_worker

    exit_worker(main())
