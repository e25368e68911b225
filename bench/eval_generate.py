"""Benchmark: Evaluate's batched greedy answers vs a plain one-row-at-a-time `model.generate` loop.

Run: .venv/bin/python bench/eval_generate.py → rewrites its section of docs/BENCHMARKS.md.

40 rows with reference answers (the shipped sample chat-assistant.jsonl), the embedded SmolLM2 in float32
on the CPU, all in this one process, on its main thread. The reference is what one writes by hand: for each
row, `apply_chat_template(..., add_generation_prompt=True)` then `model.generate(do_sample=False)`. Against
it: LoRA Studio's `eval_worker.generate_answers` (left padding, rows sorted by length) with batch sizes 1,
8, 16 and 40. Every side writes at most the cap the worker itself would use, min(256, 2 × longest reference
in tokens + 16). One warm-up, then REPS interleaved repetitions (so drift in the machine's load hits every
side alike); medians. Answers are compared with the one-by-one reference, exactly, row by row.
Torch runs its default threads, as the worker does; `--threads 1` when other work holds a core, else the
OpenMP threads wait on each other and the timings measure the scheduler (docs/BENCHMARKS.md says more).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import cpu_seconds, write_section

ROWS = 40
REPS = 2
BATCHES = (1, 8, 16, 40)
TARGET = 3.0  # batched ≥ 3× faster than one row at a time (the issue)
SAMPLE = "chat-assistant.jsonl"


def busy_seconds() -> float:
    """CPU seconds spent so far by every process on the machine (/proc/stat: all but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def plain_loop(model, tokenizer, conversations: list[list[dict]], max_new_tokens: int) -> tuple[list[str], list[int]]:
    """One row at a time, as one writes it by hand: (answers, new tokens before the end-of-turn)."""
    import torch

    answers, counts = [], []
    with torch.inference_mode():
        for messages in conversations:
            inputs = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            out = model.generate(
                **inputs, do_sample=False, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id
            )
            new = out[0, inputs["input_ids"].shape[1] :]
            answers.append(tokenizer.decode(new, skip_special_tokens=True))
            counts.append(len(new) - int(new[-1] == tokenizer.eos_token_id))
    return answers, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--reps", type=int, default=REPS)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own, as the worker)")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()

    from lora_studio import settings

    os.environ.setdefault("LORA_STUDIO_MODEL_CACHE", str(settings.model_cache_dir()))  # keep the converted model
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    from lora_studio.engine.eval_worker import generate_answers, render_prompt
    from lora_studio.engine.models import ensure_embedded_model, load_tokenizer
    from lora_studio.evaluation import file_rows
    from lora_studio.generation_config import GenerationSettings

    default_threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    path = settings.SAMPLES_DIR / SAMPLE
    rows = file_rows(path, limit=args.rows).rows
    # The reference reads the file itself: each line's conversation without its last (assistant) turn.
    lines = path.read_text(encoding="utf-8").splitlines()[: len(rows)]
    conversations = [json.loads(line)["messages"][:-1] for line in lines]
    if conversations != [r.messages for r in rows]:
        raise SystemExit("file_rows and the plain reading of the sample disagree on the rows")

    model_dir = str(ensure_embedded_model())
    tokenizer = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    longest = max(len(tokenizer(r.reference, add_special_tokens=False)["input_ids"]) for r in rows)
    cap = min(256, 2 * longest + 16)  # eval_worker.run_evaluation's cap at the default 256
    settings_ = GenerationSettings.greedy(cap)
    prompts = [render_prompt(tokenizer, r) for r in rows]

    # Warm-up: one short single-row and one short batched generation (the batched kernels see other shapes).
    plain_loop(model, tokenizer, conversations[:1], 8)
    generate_answers(model, tokenizer, prompts[:8], GenerationSettings.greedy(8), 8)

    sides = ["plain", *(f"b{b}" for b in BATCHES)]
    times: dict[str, list[float]] = {s: [] for s in sides}
    others: list[float] = []  # cores used by other processes during each timing
    answers: dict[str, list[str]] = {}
    tokens: dict[str, int] = {}
    per_row: dict[str, list[int]] = {}
    for rep in range(args.reps):
        for side in sides:  # interleaved
            t0, busy0, own0 = time.perf_counter(), busy_seconds(), cpu_seconds()
            if side == "plain":
                got, counts = plain_loop(model, tokenizer, conversations, cap)
            else:
                got, counts = generate_answers(model, tokenizer, prompts, settings_, int(side[1:]))
            times[side].append(time.perf_counter() - t0)
            others.append(max(0.0, (busy_seconds() - busy0) - (cpu_seconds() - own0)) / times[side][-1])
            if side in answers and answers[side] != got:
                print(f"note: {side} answered differently in repetition {rep + 1}")
            answers[side], tokens[side], per_row[side] = got, sum(counts), counts
            print(
                f"rep {rep + 1} {side:>5}: {times[side][-1]:6.1f} s, {sum(counts)} answer tokens, "
                f"other processes {others[-1]:.2f} cores",
                flush=True,
            )

    reference = answers["plain"]
    base = statistics.median(times["plain"])
    n = len(rows)
    # Forward passes: a row takes one per token it writes plus its end-of-turn (none when cut at the cap); a
    # batch takes as many as its longest row, the rows that ended earlier riding along.
    row_steps = [c + 1 if c < cap else cap for c in per_row["plain"]]
    prompt_len = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    order = sorted(range(n), key=lambda i: prompt_len[i])  # the worker's order
    step_ms = 1000 * base / sum(row_steps)
    table = [
        (
            "plain loop, one row at a time (apply_chat_template + generate)",
            f"{base:.1f} s, {n / base:.2f} rows/s",
            f"reference; {tokens['plain']} answer tokens, {sum(row_steps)} forward passes of {step_ms:.0f} ms",
        )
    ]
    missed = []
    for b in BATCHES:
        side = f"b{b}"
        t = statistics.median(times[side])
        same = sum(a == r for a, r in zip(answers[side], reference, strict=True))
        speed = base / t
        label = f"generate_answers, batch size {b}"
        note = f"{speed:.2f}× the plain loop; {same}/{n} answers identical to it"
        if b == 1:
            label += " (the machinery, no batching)"
        else:
            batches = [order[k : k + b] for k in range(0, n, b)]
            steps = sum(max(row_steps[i] for i in batch) for batch in batches)
            slots = sum(len(batch) * max(row_steps[i] for i in batch) for batch in batches)
            ms = 1000 * t / steps
            verdict = f"target ≥ {TARGET:g}×" + ("" if speed >= TARGET else ": missed")
            label = f"**{label}**"
            note = (
                f"**{speed:.2f}×** the plain loop ({verdict}); {same}/{n} identical; {steps} forward passes of "
                f"{ms:.0f} ms ({ms / step_ms:.1f}× a one-row pass), {tokens['plain'] / slots:.0%} of row-passes "
                "write a token of an answer"
            )
            if speed < TARGET:
                missed.append(b)
        table.append((label, f"{t:.1f} s, {n / t:.2f} rows/s", note))
    if missed:
        table.append(
            (
                f"why batch size {', '.join(map(str, missed))} {'misses' if len(missed) == 1 else 'miss'} {TARGET:g}×",
                "see the notes",
                "a batched pass costs several one-row passes (the matmuls stop being bound by reading the weights "
                "and become bound by arithmetic), and rows that ended wait for the longest one of their batch",
            )
        )
    table.append(
        (
            "rows, answer cap",
            f"{n} rows, {cap} new tokens",
            f"first {n} rows of assets/samples/{SAMPLE}; cap = min(256, 2 × {longest} + 16), the worker's",
        )
    )
    table.append(
        (
            "torch threads / transformers",
            f"{torch.get_num_threads()} / {transformers.__version__}",
            f"float32, main thread, one process; the worker runs with torch's default ({default_threads} here)",
        )
    )
    table.append(
        (
            "other processes during the timings: median / max cores",
            f"{statistics.median(others):.2f} / {max(others):.2f}",
            f"of {os.cpu_count()}; 1-min load average before / after {load_before:.2f} / {os.getloadavg()[0]:.2f}; "
            f"the whole benchmark took {time.monotonic() - started:.0f} s",
        )
    )
    for b in BATCHES:
        for i, (a, r) in enumerate(zip(answers[f"b{b}"], reference, strict=True)):
            if a != r:
                print(f"row {rows[i].row} differs at batch size {b}:\n  plain: {r!r}\n  batch: {a!r}")
    if args.no_write:
        print("\n".join(f"| {a} | {b} | {c} |" for a, b, c in table))
        return
    flags = f" --threads {args.threads}" if args.threads else ""
    command = f".venv/bin/python bench/eval_generate.py{flags} (median of {args.reps}, interleaved)"
    print(write_section("eval-generate", "Evaluate: batched greedy answers vs one row at a time", command, table))


if __name__ == "__main__":
    main()
