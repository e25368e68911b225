"""The reference: what a user would write instead of LoRA Studio — a plain TRL SFTTrainer script.

Imports nothing from lora_studio. Two modes, same model, data, LoRA settings, seed and steps:
- `identical`: every setting a LoRA Studio job uses (float32 on CPU, no gradient checkpointing,
  the marked chat template for assistant-only loss) — measures the job machinery's overhead;
- `trl-defaults`: the same hyper-parameters, TRL's own defaults for everything else
  (gradient checkpointing on, bf16 mixed precision, the model's stored dtype) — what our defaults beat;
- `recipe`: what bench/quality.py compares the presets with — TRL's defaults for everything (its batch size,
  scheduler, max length, loss on every token, the tokenizer's own chat template) and a common LoRA recipe:
  r 8, alpha 16, dropout 0.05, all-linear, lr 2e-4, `--epochs` 2. The result also holds the seconds of
  `trainer.train()`.

Run: python bench/plain_trl.py --mode identical --model DIR --data FILE --template FILE --steps N --out RESULT.json
The result holds one row per log event (step, time, num_tokens, loss) and the peak RSS; the
benchmark measures tokens/s over the same window for both sides.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import SFTConfig, SFTTrainer


class Timing(TrainerCallback):
    """The measuring instrument only: when each log row happened and the non-padding tokens so far."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.rows.append(
                {
                    "step": state.global_step,
                    "time": time.time(),
                    "loss": logs["loss"],
                    "num_tokens": logs.get("num_tokens"),
                }
            )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["identical", "trl-defaults", "recipe"], required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--template", help="chat template with generation markers (assistant-only loss; not in recipe)")
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--epochs", type=float, default=2.0, help="recipe mode: passes over the data")
    p.add_argument("--out", required=True)
    p.add_argument("--output-dir", required=True)
    # quick-start's hyper-parameters
    p.add_argument("--r", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16)
    p.add_argument("--dropout", type=float, default=0.05)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--logging-steps", type=int, default=5)
    p.add_argument("--save-steps", type=int, default=25)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    started = time.time()

    cpu = not torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    with Path(a.data).open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    dataset = Dataset.from_list([{"messages": r["messages"]} for r in rows])
    timing = Timing()
    if a.mode == "recipe":
        recipe(a, tokenizer, dataset, timing, started)
        return
    with Path(a.template).open(encoding="utf-8") as f:
        tokenizer.chat_template = f.read().rstrip("\n")

    common = dict(
        output_dir=a.output_dir,
        max_steps=a.steps,
        per_device_train_batch_size=a.batch_size,
        learning_rate=a.lr,
        lr_scheduler_type="linear",
        warmup_steps=a.warmup,
        seed=a.seed,
        data_seed=a.seed,
        logging_steps=a.logging_steps,
        logging_first_step=True,
        save_steps=a.save_steps,
        save_total_limit=2,
        max_length=a.max_length,
        assistant_only_loss=True,
        report_to="none",
        disable_tqdm=True,
        use_cpu=cpu,
    )
    if a.mode == "identical":
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32 if cpu else torch.bfloat16)
        args = SFTConfig(
            **common, packing=False, bf16=not cpu, gradient_checkpointing=False, dataloader_pin_memory=not cpu
        )
    else:
        model = AutoModelForCausalLM.from_pretrained(a.model)
        args = SFTConfig(**common)
    lora = LoraConfig(
        r=a.r, lora_alpha=a.alpha, lora_dropout=a.dropout, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=lora, callbacks=[timing]
    )
    trainer.train()
    trainer.save_model(a.output_dir + "/adapter")
    with Path(a.out).open("w", encoding="utf-8") as f:
        json.dump(
            {
                "mode": a.mode,
                "started": started,
                "rows": timing.rows,
                "gradient_checkpointing": bool(args.gradient_checkpointing),
                "bf16": bool(args.bf16),
                "dtype": str(model.dtype),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20 if not cpu else None,
            },
            f,
        )


def recipe(a, tokenizer, dataset, timing: Timing, started: float) -> None:
    """TRL's defaults and the common LoRA recipe, for a number of epochs (bench/quality.py)."""
    cpu = not torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(a.model)
    args = SFTConfig(
        output_dir=a.output_dir,
        num_train_epochs=a.epochs,
        learning_rate=2e-4,
        seed=a.seed,
        report_to="none",
        disable_tqdm=True,
        save_strategy="no",
        use_cpu=cpu,
    )
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=lora, callbacks=[timing]
    )
    t0 = time.time()
    result = trainer.train()
    train_s = time.time() - t0
    trainer.save_model(a.output_dir + "/adapter")
    with Path(a.out).open("w", encoding="utf-8") as f:
        json.dump(
            {
                "mode": a.mode,
                "started": started,
                "rows": timing.rows,
                "train_s": train_s,
                "final_loss": result.training_loss,
                "gradient_checkpointing": bool(args.gradient_checkpointing),
                "bf16": bool(args.bf16),
                "batch_size": args.per_device_train_batch_size,
                "steps": trainer.state.global_step,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            },
            f,
        )


if __name__ == "__main__":
    main()
