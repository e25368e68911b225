"""Benchmark: the waits a user feels (issue 19) — Stop, Measure speed, and how right the ETA is before measuring.

Run: .venv/bin/python bench/waits.py   → prints a table and rewrites its section of docs/BENCHMARKS.md
(about 6 minutes on 2 idle CPU cores).

On the embedded SmolLM2-135M-Instruct with the shipped chat-assistant.jsonl sample, as the dashboard runs it
(JobManager → worker process; Measure speed → the calibration worker), in a fresh LORA_STUDIO_HOME (an empty
speed cache) with the converted model cached:
1. a `quick-start` run: a user's first run, from Start to its first loss point. It stores the speed it reached, as
   every finished run does;
2. the Config tab's ETA for `chat-assistant`, never measured: the rough estimate, paced by what run 1 measured
   (`preflight.inspect` + `estimates`: the same numbers the pre-flight panel shows);
3. **Measure speed** for `chat-assistant`: the calibration worker's whole time, and the ETA it gives;
4. the `chat-assistant` run itself: the real training time (first point → last, as the ETA counts it) against
   both ETAs;
5. **Stop**: a `quick-start` run stopped right after its third point; Stop → `stopped` (adapter saved) and Stop →
   worker gone, against the run's time per step.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import ROOT, write_section
from studio_job import run_job

COMMAND = ".venv/bin/python bench/waits.py"
SAMPLE = ROOT / "lora_studio" / "assets" / "samples" / "chat-assistant.jsonl"
TARGETS = {"measure_s": 30.0, "eta_factor": 2.0}


def _config(preset: str):
    from lora_studio.config import apply_overrides
    from lora_studio.presets import load_preset

    return apply_overrides(load_preset(preset), ["model.name_or_path=embedded", f"data.path={SAMPLE}"])


def eta_seconds(cfg) -> tuple[float, float | None, int]:
    """(rough ETA, measured ETA or None, paced by how many measured speeds) as the pre-flight panel has them."""
    from lora_studio import calibration
    from lora_studio.engine.preflight import inspect
    from lora_studio.estimates import count_train_rows, optimizer_steps, rough_sec_per_step

    facts = inspect(cfg)
    rows = count_train_rows(cfg)
    assert rows is not None, "the sample has rows"
    steps = optimizer_steps(rows.train_rows, cfg)
    rough = steps * rough_sec_per_step(cfg, facts, rows.mean_tokens)
    measured = calibration.lookup(calibration.key_for(cfg, facts.device))
    return rough, (steps * measured.sec_per_step if measured else None), facts.flops_runs


def measure_speed(cfg) -> float:
    """Seconds from pressing Measure speed to its result, as the Config tab waits for it."""
    from lora_studio import calibration

    started = time.time()
    job = calibration.start_calibration(cfg)
    while (outcome := calibration.poll_calibration(job)).state == "running":
        time.sleep(0.2)
    if outcome.state != "completed":
        raise RuntimeError(f"Measure speed failed: {outcome.message}")
    return time.time() - started


@dataclass
class StopWait:
    status_s: float  # Stop → the status says stopped (the adapter saved): what the Train tab shows
    gone_s: float  # Stop → the worker process gone and its job slot free
    step_s: float  # the run's time per step before the stop
    steps_after: int  # optimizer steps trained after Stop was asked (the one in progress)


def stop_latency(runs: Path) -> StopWait:
    """Stop asked right after a logged point: the step in progress has just begun (before the worker cut steps
    short, the worst case: a whole step to finish)."""
    from lora_studio.jobs import JobManager
    from lora_studio.metrics import read_all
    from lora_studio.runs import read_status

    cfg = _config("quick-start")
    manager = JobManager(runs, poll_s=0.05)
    paths = manager.submit(cfg, "stop")
    while len([r for r in read_all(paths.metrics) if r.event == "log"]) < 3:
        manager.poll()
        if read_status(paths).state not in ("queued", "running"):
            raise RuntimeError(f"the stop run ended before its third point: {read_status(paths).error}")
        time.sleep(0.02)
    logs = [r for r in read_all(paths.metrics) if r.event == "log"]
    # elapsed_s: the worker's training clock, without the starting point's sample answers
    per_step = (logs[-1].elapsed_s - logs[0].elapsed_s) / (logs[-1].step - logs[0].step)
    asked = time.time()
    manager.stop(paths.run_id)
    stopped_s = None
    while stopped_s is None or manager.running():
        manager.poll()
        state = read_status(paths).state
        if state in ("failed", "completed"):
            raise RuntimeError(f"the stop run ended {state}")
        if stopped_s is None and state == "stopped":
            stopped_s = time.time() - asked
        time.sleep(0.02)
    gone_s = time.time() - asked
    return StopWait(stopped_s, gone_s, per_step, read_status(paths).step - logs[-1].step)


def main() -> None:
    from lora_studio import settings

    began = time.time()
    home = Path(tempfile.mkdtemp(prefix="lora-studio-waits-"))
    os.environ.setdefault("LORA_STUDIO_MODEL_CACHE", str(settings.model_cache_dir()))  # keep the converted model
    os.environ["LORA_STUDIO_HOME"] = str(home)  # an empty speed cache
    os.environ["HF_HUB_OFFLINE"] = "1"
    runs = home / "runs"

    first = run_job(runs, SAMPLE, {}, preset="quick-start")
    chat = _config("chat-assistant")
    rough, _, paced_by = eta_seconds(chat)
    measure_s = measure_speed(chat)
    _, measured_eta, _ = eta_seconds(chat)
    real = run_job(runs, SAMPLE, {}, preset="chat-assistant")
    training_s = real.rows[-1]["elapsed"] - real.rows[0]["elapsed"]
    # The rows start after the first step: the ETA counts every step, so the first one is added back.
    training_s += real.s_per_step
    stop = stop_latency(runs)

    def factor(eta: float) -> str:
        ratio = max(eta, training_s) / max(min(eta, training_s), 1e-9)
        word = "over" if eta > training_s else "under"
        return f"{ratio:.2f}× {word}"

    assert measured_eta is not None, "Measure speed stores its speed"
    rows = [
        ("first run (quick-start): job time", f"{first.ended - first.submitted:.1f} s", "stores the speed it reached"),
        (
            "**Start → first loss point written** (quick-start, model converted already)",
            f"**{first.first_loss_s:.1f} s**",
            "target ≤ 10 s to the chart; the page shows it within the chart latency (section chart-latency)",
        ),
        (
            "chat-assistant: rough ETA before measuring",
            f"{rough:.0f} s",
            f"paced by {paced_by} measured speed(s) of this machine",
        ),
        ("chat-assistant: real training time", f"{training_s:.0f} s", "first step to last, as the ETA counts"),
        ("**rough ETA vs real**", f"**{factor(rough)}**", f"target within {TARGETS['eta_factor']:.0f}×"),
        ("**Measure speed: press → result**", f"**{measure_s:.1f} s**", f"target ≤ {TARGETS['measure_s']:.0f} s"),
        ("measured ETA vs real", factor(measured_eta), ""),
        (
            "**Stop → stopped (adapter saved)**",
            f"**{stop.status_s:.1f} s = {stop.status_s / stop.step_s:.2f} steps**",
            f"target ≤ 1 step; Stop asked just after a point: {stop.steps_after} step(s) trained after it",
        ),
        (
            "Stop → worker gone, job slot free",
            f"{stop.gone_s:.1f} s = {stop.gone_s / stop.step_s:.2f} steps",
            "the next queued run can start",
        ),
        ("time per step of the stopped run", f"{stop.step_s:.2f} s", "quick-start"),
    ]
    for row in rows:
        print(" | ".join(row))
    notes = (
        f"One run each; the whole bench took {(time.time() - began) / 60:.1f} min. "
        "Stop → stopped is Stop's request to the worker's `stopped` status (what the Train tab shows), the "
        "checkpoint (weights, optimizer state) and the adapter included. Stop is asked as soon as a point is "
        "written, so the next step has just begun: the worker drops that step at its next layer (the stop watcher "
        "looks every 0.1 s) instead of finishing it, and Resume trains its batch again."
    )
    title = "The waits a user feels: ETA, Measure speed, Stop"
    print(write_section("waits", title, COMMAND, rows, header=("measure", "value", "note"), notes=notes))


if __name__ == "__main__":
    main()
