"""The reference for DPO: what a user would write instead of LoRA Studio — a plain TRL DPOTrainer script.

Imports nothing from lora_studio. Every setting a LoRA Studio `preference-dpo` job uses: the same model in
float32 (CPU), LoRA r/alpha/dropout on all linear layers, beta, sigmoid loss, max length, batch, learning rate
and schedule, seed; the pairs as chat turns; the reference is the model with the adapter switched off (TRL's
default when it gets a peft_config), dropout kept as configured.

Run: python bench/plain_dpo.py --model DIR --data PAIRS.jsonl --steps N --out RESULT.json --output-dir DIR
The result holds one row per log event (step, time, num_tokens, loss) and the peak RSS.
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
from trl import DPOConfig, DPOTrainer


class Timing(TrainerCallback):
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
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--output-dir", required=True)
    # the preference-dpo preset's settings
    p.add_argument("--r", type=int, default=16)
    p.add_argument("--alpha", type=float, default=32)
    p.add_argument("--dropout", type=float, default=0.05)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--grad-accum", type=int, default=2)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--logging-steps", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    cpu = not torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    with Path(a.data).open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    dataset = Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": r["prompt"]}],
                "chosen": [{"role": "assistant", "content": r["chosen"]}],
                "rejected": [{"role": "assistant", "content": r["rejected"]}],
            }
            for r in rows
        ]
    )
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32 if cpu else torch.bfloat16)
    args = DPOConfig(
        output_dir=a.output_dir,
        max_steps=a.steps,
        per_device_train_batch_size=a.batch_size,
        gradient_accumulation_steps=a.grad_accum,
        learning_rate=a.lr,
        lr_scheduler_type="cosine",
        warmup_steps=a.warmup,
        seed=a.seed,
        data_seed=a.seed,
        logging_steps=a.logging_steps,
        logging_first_step=True,
        save_strategy="no",
        max_length=a.max_length,
        beta=a.beta,
        loss_type=["sigmoid"],
        disable_dropout=False,
        report_to="none",
        disable_tqdm=True,
        use_cpu=cpu,
        bf16=not cpu,
        gradient_checkpointing=False,
        dataloader_pin_memory=not cpu,
    )
    timing = Timing()
    lora = LoraConfig(
        r=a.r, lora_alpha=a.alpha, lora_dropout=a.dropout, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    trainer = DPOTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=lora, callbacks=[timing]
    )
    trainer.train()
    with Path(a.out).open("w", encoding="utf-8") as f:
        json.dump({"rows": timing.rows, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, f)


if __name__ == "__main__":
    main()
