"""Benchmark: a dashboard training job vs a plain TRL script, side by side on this machine.

Run: .venv/bin/python bench/train_throughput.py [--steps 20] [--reps 3]
→ prints the figures and rewrites its sections of docs/BENCHMARKS.md.

Workload: the embedded SmolLM2-135M-Instruct, lora_studio/assets/samples/chat-assistant.jsonl, the `quick-start`
preset (LoRA r=8 on all linear layers, batch 4, max length 256, lr 1e-3), a fixed number of steps.
Each repetition runs, interleaved, (1) a LoRA Studio job through JobManager (the worker
subprocess the dashboard starts), (2) the same job with training.fast_dropout off and padded batches
(training.padding_free never), so that every setting equals (3) bench/plain_trl.py with identical settings,
(4) bench/plain_trl.py with TRL's
defaults for everything but the hyper-parameters. (2)/(3) is the job machinery's overhead,
(1)/(4) the speed of our defaults. Tokens/s counts
non-padding tokens (TRL's `num_tokens`) from the first logged step to the last, so model loading,
the step-0 sample answers and the final save are outside the window on both sides.
Also measured: MFU against a matmul peak measured in the same run, start → first loss and its
parts, and peak memory with speed for float32, bfloat16 and 8-bit loading.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import ROOT, write_section
from flops import flops_per_token, matmul_peak
from studio_job import JobRecord, run_job

from lora_studio.settings import SAMPLES_DIR

DATA = SAMPLES_DIR / "chat-assistant.jsonl"
TEMPLATE = ROOT / "lora_studio" / "engine" / "chat_templates" / "smollm2_training.jinja"
COMMAND = ".venv/bin/python bench/train_throughput.py"


def window_speed(rows: list[dict]) -> tuple[float, float]:
    """(tokens/s, seconds/step) between the first and the last logged step."""
    first, last = rows[0], rows[-1]
    seconds = last["time"] - first["time"]
    return (last["num_tokens"] - first["num_tokens"]) / seconds, seconds / (last["step"] - first["step"])


def run_plain(mode: str, model_dir: str, steps: int, workdir: Path, data: Path = DATA) -> dict:
    out = workdir / f"plain-{mode}-{time.time_ns()}.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "plain_trl.py"),
            "--mode",
            mode,
            "--model",
            model_dir,
            "--data",
            str(data),
            "--template",
            str(TEMPLATE),
            "--steps",
            str(steps),
            "--out",
            str(out),
            "--output-dir",
            str(workdir / f"plain-{mode}"),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**_env(), "HF_HUB_OFFLINE": "1"},
    )
    result = json.loads(out.read_text())
    result["tokens_per_s"], result["s_per_step"] = window_speed(result["rows"])
    result["final_loss"] = result["rows"][-1]["loss"]
    return result


def _env() -> dict:
    return dict(os.environ)


def median(values: list[float]) -> float:
    return statistics.median(values)


def fmt(values: list[float], digits: int = 1) -> str:
    return f"{median(values):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--memory-steps", type=int, default=10)
    args = parser.parse_args()
    from lora_studio.engine.models import ensure_embedded_model

    model_dir = str(ensure_embedded_model())
    ours: list[JobRecord] = []
    machinery: list[JobRecord] = []  # our job with every setting the plain "identical" script has
    identical: list[dict] = []
    defaults: list[dict] = []
    peaks: list[float] = []
    with tempfile.TemporaryDirectory(prefix="lora-bench-") as tmp:
        work = Path(tmp)
        for rep in range(args.reps):
            peaks.append(matmul_peak("float32"))
            ours.append(run_job(work / "runs", DATA, {"training.max_steps": args.steps}))
            machinery.append(
                run_job(
                    work / "runs",
                    DATA,
                    {
                        "training.max_steps": args.steps,
                        "training.fast_dropout": False,
                        "training.padding_free": "never",
                    },
                )
            )
            identical.append(run_plain("identical", model_dir, args.steps, work))
            defaults.append(run_plain("trl-defaults", model_dir, args.steps, work))
            print(
                f"rep {rep + 1}: ours {ours[-1].tokens_per_s:.1f} tok/s, "
                f"ours with nn.Dropout {machinery[-1].tokens_per_s:.1f}, "
                f"identical {identical[-1]['tokens_per_s']:.1f}, "
                f"TRL defaults {defaults[-1]['tokens_per_s']:.1f}; matmul peak {peaks[-1]:.1f} GFLOP/s",
                flush=True,
            )
        short = {"training.max_steps": args.memory_steps, "training.logging_steps": 1}
        memory = {
            kind: [run_job(work / "runs", DATA, {**short, **over}) for _ in range(args.reps)]
            for kind, over in (
                ("float32", {"model.dtype": "float32"}),
                ("bfloat16", {"model.dtype": "bfloat16"}),
                ("8-bit", {"model.load_in_8bit": True}),
            )
        }
        report(args, ours, machinery, identical, defaults, peaks, memory)  # inside: FLOPs read the run's config


def report(
    args,
    ours: list[JobRecord],
    machinery: list[JobRecord],
    identical: list[dict],
    defaults: list[dict],
    peaks: list[float],
    memory: dict[str, list[JobRecord]],
) -> None:
    ours_tps = [r.tokens_per_s for r in ours]
    mach_tps = [r.tokens_per_s for r in machinery]
    same_tps = [r["tokens_per_s"] for r in identical]
    dflt_tps = [r["tokens_per_s"] for r in defaults]
    overhead = [a / b for a, b in zip(mach_tps, same_tps, strict=True)]
    speedup = [a / b for a, b in zip(ours_tps, dflt_tps, strict=True)]
    ref = defaults[0]
    note = f"median of {args.reps}, {args.steps} steps, tokens/s from step 1 to step {args.steps}"
    rows = [
        ("LoRA Studio job (quick-start), tokens/s", fmt(ours_tps), note),
        (
            "LoRA Studio job, training.fast_dropout off (peft's nn.Dropout), padded batches, tokens/s",
            fmt(mach_tps),
            "every setting as the plain identical script",
        ),
        ("plain TRL script, identical settings, tokens/s", fmt(same_tps), "bench/plain_trl.py --mode identical"),
        ("**job machinery: ours with nn.Dropout / plain identical**", f"**{median(overhead):.3f}**", "target ≥ 0.97"),
        (
            "fast dropout: ours / ours with nn.Dropout",
            f"{median([a / b for a, b in zip(ours_tps, mach_tps, strict=True)]):.3f}",
            "lora_studio/engine/dropout.py",
        ),
        (
            "plain TRL script, TRL defaults, tokens/s",
            fmt(dflt_tps),
            f"gradient checkpointing {ref['gradient_checkpointing']}, bf16 {ref['bf16']}, weights {ref['dtype']}",
        ),
        ("**our defaults: ours / plain TRL defaults**", f"**{median(speedup):.2f}×**", "target ≥ 1.25×"),
        (
            f"final loss (step {args.steps}): ours / ours with nn.Dropout / identical / TRL defaults",
            f"{fmt([r.final_loss for r in ours], 3)} / {fmt([r.final_loss for r in machinery], 3)} / "
            f"{fmt([r['final_loss'] for r in identical], 3)} / {fmt([r['final_loss'] for r in defaults], 3)}",
            "same data order, seed and hyper-parameters; dropout masks differ",
        ),
    ]
    write_section("train-throughput", "Training throughput: LoRA Studio job vs plain TRL", COMMAND, rows)

    flop = flops_per_token(ours[0])
    achieved = [r.tokens_per_s * flop["total"] / 1e9 for r in ours]
    mfu = [a / p for a, p in zip(achieved, peaks, strict=True)]
    write_section(
        "mfu",
        "Model FLOPs utilisation (CPU, float32)",
        COMMAND,
        [
            ("FLOPs per trained token", f"{flop['total'] / 1e9:.3f} GFLOP", flop["formula"]),
            ("achieved", f"{median(achieved):.1f} GFLOP/s", "ours, tokens/s × FLOPs per token"),
            (
                "measured matmul peak (float32, 2048², torch threads as the worker)",
                f"{median(peaks):.1f} GFLOP/s",
                "median of 5 matmuls per repetition, measured between the runs",
            ),
            ("**MFU = achieved / measured peak**", f"**{100 * median(mfu):.0f}%**", "target ≥ 50%"),
        ],
    )

    parts = [r.start_parts() for r in ours]
    keys = list(parts[0])
    write_section(
        "start-first-loss",
        "Start → first loss point (model already cached)",
        COMMAND,
        [
            *[(k, f"{median([p[k] for p in parts]):.2f} s", "") for k in keys],
            (
                "**total: Start → first loss point on the chart's data**",
                f"**{median([r.first_loss_s for r in ours]):.2f} s**",
                "target ≤ 15 s",
            ),
        ],
    )

    mem_rows = []
    for kind, records in memory.items():
        mem_rows.append(
            (
                f"{kind}: worker peak RSS",
                f"{median([r.peak_rss_mb for r in records]):.0f} MiB",
                f"median of {len(records)}, VmHWM of the worker process",
            )
        )
        mem_rows.append(
            (
                f"{kind}: tokens/s",
                fmt([r.tokens_per_s for r in records]),
                f"{args.memory_steps} steps; final loss {fmt([r.final_loss for r in records], 3)}",
            )
        )
    write_section("memory", "Peak memory and speed by loading precision", COMMAND, mem_rows)
    print(Path(ROOT / "docs" / "BENCHMARKS.md").read_text())


if __name__ == "__main__":
    main()
