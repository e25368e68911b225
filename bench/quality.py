"""Benchmark: time to quality. Which preset gives the best held-out answers for the time a user waits?

Run: .venv/bin/python bench/quality.py → prints the table and rewrites its section of docs/BENCHMARKS.md.
     --tasks order-json --configs plain,quick-start --seeds 1 for a part; --variant NAME=PRESET:key=value,...
     to try a change to a preset (a tuning run; variants are reported beside the presets).

Per task (bench/tasks/: a strict output format, a style, short factual QA; 240 training rows, 32 held out),
on the embedded SmolLM2-135M-Instruct on this machine's CPU, side by side:
- `base`: the model as shipped;
- `plain`: a plain TRL SFTTrainer script (bench/plain_trl.py --mode recipe): TRL's defaults and the common
  LoRA recipe r 8, alpha 16, all-linear, lr 2e-4, 2 epochs;
- every shipped preset, run as the dashboard runs it (JobManager → worker process; the preference presets
  train on the same prompts as pairs: chosen = the right answer, rejected = a typical wrong one).
Each training side runs with SEEDS seeds; medians are reported. Time is what a user waits: the whole job, from
its start to the saved adapter (imports, model load, sample answers, evaluation passes and saves included), for
the plain script the process's whole run. The presets' automatic base-vs-adapter scoring after training is off
here: every side is scored the same way afterwards. Tokens/s counts real (non-padding) tokens, TRL's
`num_tokens`, between the first and the last logged step. The score is the Evaluate worker's (greedy answers to
the held-out prompts): JSON equal, the share of answers with the style's trait, exact match.
Results are kept in bench/.quality/ (by task, side and seed, with the settings they ran with); a later run
reuses those whose settings did not change (--fresh runs everything again).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import ROOT, write_section
from tasks import TASKS, Task, task

SEEDS = (1, 2)
WORK = ROOT / "bench" / ".quality"
COMMAND = ".venv/bin/python bench/quality.py"
PLAIN = "plain"
BASE = "base"
TIME_TARGET = 0.75  # chat-assistant: at most this share of the plain script's time (issue 18)


# ---- the sides -------------------------------------------------------------------------------------------------
def preset_side(preset: str, overrides: dict[str, object]) -> dict:
    """A preset (with a variant's changes): the settings it runs with are what identifies its results."""
    from lora_studio.config import PREFERENCE_METHODS, apply_overrides
    from lora_studio.presets import load_preset

    cfg = apply_overrides(load_preset(preset), [f"{k}={v}" for k, v in overrides.items()])
    return {
        "preset": preset,
        "settings": cfg.to_dict(),
        "overrides": overrides,
        "pairs": cfg.training.method in PREFERENCE_METHODS,
    }


def sides(configs: list[str], variants: list[str]) -> dict[str, dict]:
    from lora_studio.presets import list_presets

    shipped = [p.name for p in list_presets() if p.builtin]
    wanted = configs or [PLAIN, *shipped]
    out: dict[str, dict] = {}
    for name in wanted:
        if name == PLAIN:
            out[name] = {"plain": (ROOT / "bench" / "plain_trl.py").read_text(encoding="utf-8")}
        elif name in shipped:
            out[name] = preset_side(name, {})
        else:
            raise SystemExit(f"unknown side {name!r}: plain or one of {', '.join(shipped)}")
    for spec in variants:  # NAME=PRESET:key=value,key=value
        name, _, rest = spec.partition("=")
        preset, _, pairs = rest.partition(":")
        overrides: dict[str, object] = {}
        for item in filter(None, pairs.split(",")):
            key, _, value = item.partition("=")
            overrides[key.strip()] = value.strip()
        out[name] = preset_side(preset, overrides)
    return out


def fingerprint(side: dict, t: Task, seed: int) -> str:
    """The settings (the plain script's text, or a preset's effective settings), the data and the seed."""
    data = t.file("train-pairs" if side.get("pairs") else "train").read_bytes()
    what = side["plain"] if "plain" in side else side["settings"]
    blob = json.dumps(what, sort_keys=True).encode() + data + str(seed).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def train_ours(side: dict, t: Task, seed: int, work: Path) -> dict:
    from studio_job import run_job

    data = t.file("train-pairs" if side["pairs"] else "train")
    overrides = {**side["overrides"], "training.seed": seed, "training.evaluate_at_end": False}
    record = run_job(work / "runs", data, overrides, side["preset"])
    return {
        "job_s": record.ended - record.submitted,
        "tokens_per_s": record.tokens_per_s,
        "final_loss": record.final_loss,
        "steps": record.rows[-1]["step"],
        "adapter": str(record.paths.adapter),
    }


def train_plain(t: Task, seed: int, work: Path) -> dict:
    from lora_studio.engine.models import ensure_embedded_model

    out = work / f"plain-{t.name}-{seed}-{time.time_ns()}.json"
    folder = work / f"plain-{t.name}-{seed}"
    argv = [sys.executable, str(ROOT / "bench" / "plain_trl.py"), "--mode", "recipe", "--epochs", "2"]
    argv += ["--model", str(ensure_embedded_model()), "--data", str(t.file("train")), "--seed", str(seed)]
    argv += ["--out", str(out), "--output-dir", str(folder)]
    started = time.time()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    job_s = time.time() - started
    if done.returncode != 0:
        raise RuntimeError(f"the plain script failed on {t.name}:\n{done.stderr[-3000:]}")
    result = json.loads(out.read_text())
    rows = result["rows"]
    first, last = rows[0], rows[-1]
    tokens_per_s = (last["num_tokens"] - first["num_tokens"]) / (last["time"] - first["time"])
    return {
        "job_s": job_s,
        "tokens_per_s": tokens_per_s,
        "final_loss": result["final_loss"],
        "steps": result["steps"],
        "adapter": str(folder / "adapter"),
        "train_s": result["train_s"],
        "batch_size": result["batch_size"],
    }


def trained(work: Path, t: Task, name: str, side: dict, seed: int, fresh: bool) -> dict:
    """This side's run on this task and seed: kept from an earlier run with the same settings (under any name:
    a tuning variant that became the preset is not run again), else run now."""
    key = fingerprint(side, t, seed)
    path = work / "results" / t.name / f"{key}.json"
    if not fresh and path.is_file():
        kept = json.loads(path.read_text())
        if Path(kept["adapter"]).is_dir():
            return kept
    print(f"  training {name} on {t.name}, seed {seed} …", flush=True)
    result = train_plain(t, seed, work) if name == PLAIN else train_ours(side, t, seed, work)
    result.update(fingerprint=key, name=name, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"  {name}: {result['job_s']:.0f} s, {result['tokens_per_s']:.0f} tokens/s", flush=True)
    return result


# ---- the instrument: the Evaluate worker -------------------------------------------------------------------------
def scores_of(summary_dir: Path, t: Task) -> dict[str, dict[str, float]]:
    """label → {"score": the task's score, "loss": the held-out answers' loss per token}, from an evaluation's
    results (summary.json, rows.jsonl). The loss tells apart sides whose answers all score 1."""
    summary = json.loads((summary_dir / "summary.json").read_text())
    models = summary["models"]
    if t.metric != "trait":
        scores = {label: float(s[t.metric]) for label, s in models.items()}
    else:
        rows = [json.loads(line) for line in (summary_dir / "rows.jsonl").read_text().splitlines() if line.strip()]
        scores = {label: statistics.fmean(t.score_answer(r["answers"][label]) for r in rows) for label in models}
    return {label: {"score": scores[label], "loss": float(models[label]["loss"])} for label in models}


def evaluate(t: Task, adapters: dict[str, str], work: Path) -> dict[str, dict[str, float]]:
    """Score the base and each adapter ({label: folder}) on the task's held-out rows, in one Evaluate worker."""
    from lora_studio import processes
    from lora_studio.config import ModelSettings
    from lora_studio.evaluation import (
        MAX_NEW_TOKENS,
        EvalModel,
        begin,
        eval_root,
        file_rows,
        read_eval_status,
        worker_argv,
        write_spec,
    )
    from lora_studio.generation_config import GenerationSettings
    from lora_studio.settings import EMBEDDED_MODEL_NAME

    cache = work / "scores" / f"{t.name}.json"  # by adapter folder ("" for the base)
    known: dict[str, dict] = json.loads(cache.read_text()) if cache.is_file() else {}
    wanted = {BASE: "", **adapters}
    todo = {label: folder for label, folder in wanted.items() if folder not in known}
    if todo:
        print(f"  evaluating {len(todo)} model(s) on {t.name}'s held-out rows …", flush=True)
        rows = file_rows(t.file("heldout"))
        models = [EvalModel(label, folder) for label, folder in todo.items()]
        base = dataclasses.asdict(ModelSettings(name_or_path=EMBEDDED_MODEL_NAME))
        folder = write_spec(eval_root(None), base, models, rows, GenerationSettings.greedy(MAX_NEW_TOKENS))
        begin(folder)
        code = processes.run_in_foreground(worker_argv(folder))
        status = read_eval_status(eval_root(None))
        if code != 0 or status.state != "completed":
            raise RuntimeError(f"the evaluation of {t.name} failed: {status.error} {status.hint}")
        for label, measured in scores_of(Path(status.result), t).items():
            known[todo[label]] = {**measured, "result": status.result}
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=1))
    return {label: {"score": known[folder]["score"], "loss": known[folder]["loss"]} for label, folder in wanted.items()}


# ---- the table ---------------------------------------------------------------------------------------------------
def median(values: list[float]) -> float:
    return statistics.median(values)


def table(results: dict[str, dict[str, list[dict]]], scores: dict[str, dict[str, float]], seeds: list[int]) -> list:
    """One row per task and side: score (median and per seed), job seconds, × plain, tokens/s."""
    rows = []
    for t in (task(name) for name in results):
        plain_s = median([r["job_s"] for r in results[t.name].get(PLAIN, [])]) if PLAIN in results[t.name] else None
        base = scores[t.name][BASE]
        rows.append((t.name, BASE, f"{base['score']:.3f}", "", f"{base['loss']:.3f}", "", "", ""))
        for name, runs in results[t.name].items():
            ran = [r["seed"] for r in runs]  # every seed, or the first alone for a --one-seed side
            per_seed = [scores[t.name][f"{name}-s{s}"]["score"] for s in ran]
            loss = median([scores[t.name][f"{name}-s{s}"]["loss"] for s in ran])
            job_s = median([r["job_s"] for r in runs])
            ratio = f"{job_s / plain_s:.2f}×" if plain_s else ""
            rows.append(
                (
                    t.name,
                    name,
                    f"{median(per_seed):.3f}",
                    " / ".join(f"{v:.3f}" for v in per_seed),
                    f"{loss:.3f}",
                    f"{job_s:.0f}",
                    ratio,
                    f"{median([r['tokens_per_s'] for r in runs]):.0f}",
                )
            )
    return rows


HEADER = (
    "task",
    "side",
    "held-out score (median)",
    "per seed",
    "held-out loss (median)",
    "job seconds (median)",
    "time × plain",
    "tokens/s",
)


def verdict(results: dict, scores: dict, seeds: list[int], name: str = "chat-assistant") -> list[str]:
    """Does `name` match or beat the plain script on every task in at most TIME_TARGET of its time?"""
    lines = []
    for task_name, runs in results.items():
        if name not in runs or PLAIN not in runs:
            continue
        ours = median([scores[task_name][f"{name}-s{s}"]["score"] for s in seeds])
        plain = median([scores[task_name][f"{PLAIN}-s{s}"]["score"] for s in seeds])
        ratio = median([r["job_s"] for r in runs[name]]) / median([r["job_s"] for r in runs[PLAIN]])
        ok = ours >= plain and ratio <= TIME_TARGET
        lines.append(
            f"{task_name}: {name} {ours:.3f} vs plain {plain:.3f} in {ratio:.2f}× its time — "
            + ("met" if ok else "MISSED")
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="", help="comma-separated (default: all)")
    parser.add_argument("--configs", default="", help="comma-separated: plain and/or preset names (default: all)")
    parser.add_argument("--variant", action="append", default=[], help="NAME=PRESET:key=value,key=value")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument(
        "--one-seed",
        default="",
        help="comma-separated sides trained with the first seed only (time-boxed; the notes say which)",
    )
    parser.add_argument("--work", default=str(WORK))
    parser.add_argument("--fresh", action="store_true", help="run everything again, keeping nothing")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    work = Path(args.work).resolve()
    from lora_studio import settings

    os.environ.setdefault("LORA_STUDIO_MODEL_CACHE", str(settings.model_cache_dir()))  # keep the converted model
    os.environ["LORA_STUDIO_HOME"] = str(work / "home")
    os.environ["HF_HUB_OFFLINE"] = "1"
    chosen = [task(n) for n in filter(None, args.tasks.split(","))] or list(TASKS)
    seeds = [int(s) for s in args.seeds.split(",")]
    all_sides = sides(list(filter(None, args.configs.split(","))), args.variant)
    results: dict[str, dict[str, list[dict]]] = {t.name: {} for t in chosen}
    started = time.time()
    one_seed = set(filter(None, args.one_seed.split(",")))
    for seed in seeds:  # seeds outermost: drift in the machine's load reaches every side alike
        for t in chosen:
            for name, side in all_sides.items():
                if name in one_seed and seed != seeds[0]:
                    continue
                results[t.name].setdefault(name, []).append(trained(work, t, name, side, seed, args.fresh))
    scores = {}
    for t in chosen:
        adapters = {f"{name}-s{r['seed']}": r["adapter"] for name, runs in results[t.name].items() for r in runs}
        scores[t.name] = evaluate(t, adapters, work)
    rows = table(results, scores, seeds)
    widths = [max(len(str(r[i])) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    for row in [HEADER, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    checks = verdict(results, scores, seeds)
    for line in checks:
        print(line)
    print(f"({(time.time() - started) / 60:.1f} min)")
    if args.no_write:
        return
    notes = "\n".join(
        [
            "Scores: " + "; ".join(f"{t.name} ({t.kind}): {t.metric} — {t.about}" for t in chosen) + ".",
            "",
            *(f"- chat-assistant vs plain, {line}" for line in checks),
            *(
                [f"- Trained with seed {seeds[0]} only (time-boxed): {', '.join(sorted(one_seed))}."]
                if one_seed
                else []
            ),
        ]
    )
    command = " ".join([COMMAND, *sys.argv[1:]])
    print(write_section("quality", "Time to quality: presets vs a plain TRL script", command, rows, HEADER, notes))


if __name__ == "__main__":
    main()
