"""Benchmark: real-token throughput with batches without padding, and MFU with and without torch.compile.

Run: .venv/bin/python bench/real_tokens.py [--steps 20] [--compile-steps 40]
→ prints the figures and rewrites the sections `real-tokens` and `compile` of docs/BENCHMARKS.md.

Real tokens: on each quality task's training file (bench/tasks) and on a file with a wide spread of row lengths
(chat-assistant rows whose answers are repeated 1-8 times), four sides with the `quick-start` hyper-parameters:
(1) a LoRA Studio job (batches without padding, training.padding_free auto), (2) the same job with padded
batches (padding_free never), (3) bench/plain_trl.py with every setting as (2), (4) bench/plain_trl.py with TRL's
defaults for the rest (gradient checkpointing, bf16 autocast). Tokens/s counts non-padding tokens (TRL's
`num_tokens`) from the first logged step to the last. Same rows, order and seed on every side; the final loss
shows that (1) trains what (2) does (dropout masks differ: a padding-free batch has another shape).

Compile: the chat-assistant sample, a LoRA Studio job with training.compile always and one without, each
`--compile-steps` steps, with quick-start's LoRA dropout and without dropout; speed and MFU over the second half
of the steps (after inductor's recompiles), and the compile time as the worker's speed cache records it
(engine/worker.compiled_speed). `--only-compile` runs this part alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import ROOT, write_section
from flops import flops_per_token, matmul_peak
from studio_job import JobRecord, run_job
from train_throughput import TEMPLATE, run_plain

from lora_studio.settings import SAMPLES_DIR

COMMAND = ".venv/bin/python bench/real_tokens.py"
TASKS = ("order-json", "captain-style", "notes-qa")


def wide_file(folder: Path) -> Path:
    """Rows from 1 to 8 answers long: a padded batch of four of them is about half filler."""
    rows = [json.loads(line) for line in (SAMPLES_DIR / "chat-assistant.jsonl").read_text().splitlines() if line]
    for i, row in enumerate(rows):
        answer = row["messages"][-1]
        answer["content"] = " ".join([answer["content"]] * (1 + (i * 5) % 8))
    path = folder / "wide-spread.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def padding_share(data: Path) -> float:
    """The share of padded positions a padded batch of this run's size has on this file, in file order."""
    from lora_studio.engine.models import ensure_embedded_model, load_tokenizer

    tokenizer = load_tokenizer(str(ensure_embedded_model()))
    tokenizer.chat_template = TEMPLATE.read_text(encoding="utf-8").rstrip("\n")
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line]
    texts = [tokenizer.apply_chat_template(r["messages"], tokenize=False) for r in rows]
    lengths = [min(len(ids), 256) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    size = 4
    batches = [lengths[i : i + size] for i in range(0, len(lengths), size)]
    real, padded = sum(lengths), sum(max(b) * len(b) for b in batches)
    return 1 - real / padded


def second_half(record: JobRecord) -> float:
    rows = record.rows
    middle, last = rows[len(rows) // 2], rows[-1]
    return (last["num_tokens"] - middle["num_tokens"]) / (last["elapsed"] - middle["elapsed"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--compile-steps", type=int, default=40)
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--only-compile", action="store_true", help="the compile section alone")
    args = parser.parse_args()
    from lora_studio.engine.models import ensure_embedded_model

    model_dir = str(ensure_embedded_model())
    if args.only_compile:
        with tempfile.TemporaryDirectory(prefix="lora-bench-") as tmp:
            compile_section(args, Path(tmp))
        return
    steps = {"training.max_steps": args.steps, "training.compile": "never"}
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="lora-bench-") as tmp:
        work = Path(tmp)
        files = {task: ROOT / "bench" / "tasks" / task / "train.jsonl" for task in TASKS}
        files["wide spread (chat-assistant, answers ×1-8)"] = wide_file(work)
        ratios_identical, ratios_defaults = [], []
        for name, data in files.items():
            ours = run_job(work / "runs", data, steps)
            padded = run_job(work / "runs", data, {**steps, "training.padding_free": "never"})
            identical = run_plain("identical", model_dir, args.steps, work, data)
            defaults = run_plain("trl-defaults", model_dir, args.steps, work, data)
            share = padding_share(data)
            vs_identical = ours.tokens_per_s / identical["tokens_per_s"]
            vs_defaults = ours.tokens_per_s / defaults["tokens_per_s"]
            ratios_identical.append(vs_identical)
            ratios_defaults.append(vs_defaults)
            print(
                f"{name}: ours {ours.tokens_per_s:.0f}, padded {padded.tokens_per_s:.0f}, identical "
                f"{identical['tokens_per_s']:.0f}, TRL defaults {defaults['tokens_per_s']:.0f} tokens/s; "
                f"padding {100 * share:.0f}%",
                flush=True,
            )
            rows.append(
                (
                    name,
                    f"{100 * share:.0f}%",
                    f"{ours.tokens_per_s:.0f}",
                    f"{padded.tokens_per_s:.0f}",
                    f"{identical['tokens_per_s']:.0f}",
                    f"{defaults['tokens_per_s']:.0f}",
                    f"**{vs_identical:.2f}×** / **{vs_defaults:.2f}×**",
                    f"{ours.final_loss:.3f} / {padded.final_loss:.3f} / {identical['final_loss']:.3f} / "
                    f"{defaults['final_loss']:.3f}",
                )
            )
        notes.append(
            f"- Ours / plain TRL, median over the {len(files)} files: {statistics.median(ratios_identical):.2f}× "
            f"identical settings, {statistics.median(ratios_defaults):.2f}× TRL defaults (target ≥ 1.5×)."
        )
        write_section(
            "real-tokens",
            "Real tokens per second: batches without padding vs plain TRL",
            f"{COMMAND} (--steps {args.steps}, one run per side)",
            rows,
            header=(
                "file",
                "padded positions in a batch of 4",
                "ours (no padding), tokens/s",
                "ours padded",
                "plain TRL, identical settings",
                "plain TRL, TRL defaults",
                "ours / identical / TRL defaults",
                f"final loss (step {args.steps}): ours / padded / identical / defaults",
            ),
            notes="\n".join(notes),
        )
        if not args.skip_compile:
            compile_section(args, work)


def compile_section(args, work: Path) -> None:
    from lora_studio.engine.worker import compiled_speed
    from lora_studio.metrics import read_all

    data = SAMPLES_DIR / "chat-assistant.jsonl"
    long = {"training.max_steps": args.compile_steps, "training.logging_steps": 1}
    peaks = [matmul_peak("float32")]
    rows = []
    for dropout in ("0.05", "0"):
        eager = run_job(work / "runs", data, {**long, "lora.dropout": dropout, "training.compile": "never"})
        compiled = run_job(work / "runs", data, {**long, "lora.dropout": dropout, "training.compile": "always"})
        peaks.append(matmul_peak("float32"))
        peak, flop = statistics.median(peaks), flops_per_token(eager)["total"]
        measured = compiled_speed([r for r in read_all(compiled.paths.metrics) if r.event == "log"])
        assert measured is not None
        compile_s = measured[2]
        speed_eager, speed_compiled = second_half(eager), second_half(compiled)
        print(
            f"dropout {dropout}: eager {speed_eager:.0f}, compiled {speed_compiled:.0f} tokens/s, "
            f"compile {compile_s:.0f} s",
            flush=True,
        )
        mfu = f"{100 * speed_eager * flop / 1e9 / peak:.0f}% / {100 * speed_compiled * flop / 1e9 / peak:.0f}%"
        rows.append(
            (
                f"LoRA dropout {dropout}",
                f"{speed_eager:.0f} / {speed_compiled:.0f}",
                f"**{speed_compiled / speed_eager:.2f}×**",
                f"{compile_s:.0f} s",
                f"**{mfu}**",
                f"{eager.ended - eager.submitted:.0f} s / {compiled.ended - compiled.submitted:.0f} s",
            )
        )
    write_section(
        "compile",
        "torch.compile (inductor, CPU): speed and MFU with and without",
        f"{COMMAND} (--compile-steps {args.compile_steps})",
        rows,
        header=(
            "chat-assistant sample, quick-start",
            "tokens/s eager / compiled (second half of the steps)",
            "compiled / eager",
            "compile time before the steady pace",
            "MFU eager / compiled (target ≥ 50%)",
            f"whole job ({args.compile_steps} steps): eager / compiled",
        ),
        notes=(
            f"MFU: {flop / 1e9:.3f} GFLOP per trained token × tokens/s over the float32 matmul peak measured in the "
            f"same run ({statistics.median(peaks):.0f} GFLOP/s, 2048²). Compile time: engine/worker.compiled_speed, "
            "what training.compile's auto weighs."
        ),
    )


if __name__ == "__main__":
    main()
