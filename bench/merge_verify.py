"""Benchmark: merge + verify of an embedded-SmolLM2 adapter, beside a plain peft merge_and_unload + save.

Run: .venv/bin/python bench/merge_verify.py   → prints a table and rewrites its section of
docs/BENCHMARKS.md. Trains a 2-step quick-start adapter once, then times 3 merges of each kind in
this process (median): ours loads the base fresh in float32, merges, saves and verifies on 4 prompts;
the reference only loads, merges and saves, with no verification.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import write_section

from lora_studio.settings import SAMPLES_DIR

REPS = 3


def main() -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from lora_studio.config import apply_overrides
    from lora_studio.engine.merge import merge_run
    from lora_studio.engine.models import ensure_embedded_model
    from lora_studio.engine.train import train
    from lora_studio.presets import load_preset
    from lora_studio.runs import RunPaths, create_run

    tmp = Path(tempfile.mkdtemp(prefix="bench-merge-"))
    cfg = apply_overrides(
        load_preset("quick-start"),
        [
            f"data.path={SAMPLES_DIR / 'chat-assistant.jsonl'}",
            "training.max_steps=2",
            "training.sample_every_save=false",
        ],
    )
    paths = RunPaths(tmp / "run")
    create_run(paths, cfg)
    train(cfg, paths)
    base_dir = ensure_embedded_model()

    ours, plain, diffs = [], [], []
    for i in range(REPS):
        start = time.perf_counter()
        report = merge_run(paths, tmp / f"ours-{i}", "float32")
        ours.append(time.perf_counter() - start)
        diffs.append(f"{report['float32']['max_logit_diff']:.2e}")
        start = time.perf_counter()
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), paths.adapter)
        model.merge_and_unload().save_pretrained(tmp / f"plain-{i}")
        plain.append(time.perf_counter() - start)
    a, b = statistics.median(ours), statistics.median(plain)
    rows = [
        ("merge + save + verify, float32 (ours)", f"{a:.1f} s", f"max logit difference {diffs[-1]}"),
        ("load + merge_and_unload + save (plain peft, no check)", f"{b:.1f} s", "reference"),
        ("ratio ours / plain", f"{a / b:.2f}", "the verification is most of the difference"),
    ]
    print(
        write_section(
            "merge-verify",
            "Merge and verify (embedded SmolLM2, rank 8 all-linear)",
            ".venv/bin/python bench/merge_verify.py",
            rows,
        )
    )


if __name__ == "__main__":
    main()
