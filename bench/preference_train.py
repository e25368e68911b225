"""Benchmark: a dashboard DPO job vs a plain TRL DPOTrainer script, and speed and memory per method.

Run: .venv/bin/python bench/preference_train.py [--steps 10] [--reps 3] [--method-steps 8]
→ prints the figures and rewrites its sections of docs/BENCHMARKS.md.

1. DPO: the embedded SmolLM2-135M-Instruct on lora_studio/assets/samples/preference-pairs.jsonl with the
   `preference-dpo` preset (LoRA r=16 on all linear layers, batch 4 × 2 accumulated, max length 512, beta 0.1),
   (a) as a LoRA Studio job through JobManager (the worker the dashboard starts), (b) the same job with
   training.fast_dropout off, so that every setting equals (c) bench/plain_dpo.py. Interleaved, `--reps` times.
   Tokens/s counts TRL's `num_tokens` (prompt twice, both answers) from the first logged step to the last.
2. Methods: the `quick-start` preset on the chat sample with LoRA, DoRA, LoRA+, 8-bit and 4-bit bases, and
   DPO/ORPO on the pairs, each for `--method-steps` steps: seconds per step and the worker's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import ROOT, write_section
from studio_job import JobRecord, run_job

from lora_studio.settings import SAMPLES_DIR

PAIRS = SAMPLES_DIR / "preference-pairs.jsonl"
CHAT = SAMPLES_DIR / "chat-assistant.jsonl"
COMMAND = ".venv/bin/python bench/preference_train.py"


def run_plain(model_dir: str, steps: int, workdir: Path) -> dict:
    out = workdir / f"plain-dpo-{time.time_ns()}.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "plain_dpo.py"),
            "--model",
            model_dir,
            "--data",
            str(PAIRS),
            "--steps",
            str(steps),
            "--out",
            str(out),
            "--output-dir",
            str(workdir / "plain-dpo"),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.read_text())
    first, last = result["rows"][0], result["rows"][-1]
    result["tokens_per_s"] = (last["num_tokens"] - first["num_tokens"]) / (last["time"] - first["time"])
    result["final_loss"] = last["loss"]
    return result


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--method-steps", type=int, default=8)
    args = parser.parse_args()
    from lora_studio.engine.models import ensure_embedded_model

    model_dir = str(ensure_embedded_model())
    dpo = {"training.max_steps": args.steps, "training.logging_steps": 1}
    ours: list[JobRecord] = []
    machinery: list[JobRecord] = []
    plain: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="lora-bench-") as tmp:
        work = Path(tmp)
        for rep in range(args.reps):
            ours.append(run_job(work / "runs", PAIRS, dpo, preset="preference-dpo"))
            machinery.append(
                run_job(work / "runs", PAIRS, {**dpo, "training.fast_dropout": False}, preset="preference-dpo")
            )
            plain.append(run_plain(model_dir, args.steps, work))
            print(
                f"rep {rep + 1}: ours {ours[-1].tokens_per_s:.1f} tok/s, ours with nn.Dropout "
                f"{machinery[-1].tokens_per_s:.1f}, plain TRL {plain[-1]['tokens_per_s']:.1f}",
                flush=True,
            )
        short = {"training.max_steps": args.method_steps, "training.logging_steps": 1}
        methods: dict[str, JobRecord] = {}
        for label, data, preset, over in (
            ("SFT, LoRA (quick-start)", CHAT, "quick-start", {}),
            ("SFT, DoRA", CHAT, "quick-start", {"lora.use_dora": True}),
            ("SFT, LoRA+ (ratio 16)", CHAT, "quick-start", {"lora.loraplus_lr_ratio": 16}),
            ("SFT, 8-bit base", CHAT, "quick-start", {"model.load_in_8bit": True}),
            ("SFT, 4-bit base (QLoRA)", CHAT, "quick-start", {"model.load_in_4bit": True}),
            ("DPO (preference-dpo)", PAIRS, "preference-dpo", {"training.gradient_accumulation": 1}),
            ("ORPO (preference-orpo)", PAIRS, "preference-orpo", {"training.gradient_accumulation": 1}),
        ):
            methods[label] = run_job(work / "runs", data, {**short, **over}, preset=preset)
            print(f"{label}: {methods[label].s_per_step:.2f} s/step, {methods[label].peak_rss_mb:.0f} MiB", flush=True)
    report(args, ours, machinery, plain, methods)


def report(args, ours: list[JobRecord], machinery: list[JobRecord], plain: list[dict], methods: dict) -> None:
    ours_tps = [r.tokens_per_s for r in ours]
    mach_tps = [r.tokens_per_s for r in machinery]
    plain_tps = [r["tokens_per_s"] for r in plain]
    ratio = [a / b for a, b in zip(mach_tps, plain_tps, strict=True)]
    note = f"median of {args.reps}, {args.steps} steps, tokens/s from step 1 to step {args.steps}"
    write_section(
        "dpo-throughput",
        "DPO: LoRA Studio job vs plain TRL DPOTrainer",
        COMMAND,
        [
            ("LoRA Studio job (preference-dpo), tokens/s", f"{median(ours_tps):.1f}", note),
            (
                "LoRA Studio job, training.fast_dropout off, tokens/s",
                f"{median(mach_tps):.1f}",
                "every setting as plain",
            ),
            (
                "plain TRL DPOTrainer script, identical settings, tokens/s",
                f"{median(plain_tps):.1f}",
                "bench/plain_dpo.py",
            ),
            ("**job machinery: ours with nn.Dropout / plain**", f"**{median(ratio):.3f}**", "target ≥ 0.97"),
            (
                "fast dropout: ours / ours with nn.Dropout",
                f"{median([a / b for a, b in zip(ours_tps, mach_tps, strict=True)]):.3f}",
                "lora_studio/engine/dropout.py",
            ),
            (
                "peak RSS: ours / plain",
                f"{median([r.peak_rss_mb for r in ours]):.0f} / {median([r['peak_rss_mb'] for r in plain]):.0f} MiB",
                "both keep one copy of the model: the reference is the adapter switched off",
            ),
            (
                f"final loss (step {args.steps}): ours / ours with nn.Dropout / plain",
                f"{median([r.final_loss for r in ours]):.3f} / {median([r.final_loss for r in machinery]):.3f} / "
                f"{median([r['final_loss'] for r in plain]):.3f}",
                "same data order, seed and hyper-parameters; dropout masks differ",
            ),
        ],
    )
    base = methods["SFT, LoRA (quick-start)"]
    rows = []
    for label, record in methods.items():
        versus = (
            f"{record.s_per_step / base.s_per_step:.2f}× the LoRA step"
            if label.startswith("SFT")
            else "its preset: r=16, 2 sequences per pair, batch 4"
        )
        rows.append(
            (
                f"{label}: s/step · worker peak RSS",
                f"{record.s_per_step:.2f} s · {record.peak_rss_mb:.0f} MiB",
                f"{versus}; {args.method_steps} steps, one run",
            )
        )
    write_section("methods", "Speed and memory per method (CPU, float32 unless quantized)", COMMAND, rows)


if __name__ == "__main__":
    main()
