"""Runs one LoRA Studio training job exactly as the dashboard does (JobManager → worker subprocess)
and records what the benchmarks need: phase timestamps seen from outside, the metrics rows, the
worker's peak RSS, and tokens/s over the same window bench/plain_trl.py uses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from lora_studio.config import apply_overrides
from lora_studio.jobs import JobManager
from lora_studio.metrics import read_all
from lora_studio.presets import load_preset
from lora_studio.runs import RunPaths, read_status
from lora_studio.sample_answers import read_samples

PHASES = ("reading data", "loading model", "model ready", "tokenising", "training")


@dataclass
class JobRecord:
    paths: RunPaths
    submitted: float
    started: float  # JobManager marked the run running (it has just spawned the worker)
    ended: float = 0.0  # the worker was seen gone, its adapter saved (or the job over)
    phase_times: dict[str, float] = field(default_factory=dict)  # first time each phase was seen
    rows: list[dict] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    tokens_per_s: float = 0.0
    s_per_step: float = 0.0
    final_loss: float = 0.0
    first_loss_s: float = 0.0  # submit → the first loss row's timestamp
    trainable_params: int = 0
    total_params: int = 0

    def start_parts(self) -> dict[str, float]:
        """Start → first loss, in parts (phase times are seen by polling status.json every 20 ms)."""
        t = dict(self.phase_times)
        # A phase shorter than the 20 ms polling can pass unseen: it then took no time, ending when the next began.
        later = self.rows[0]["time"]
        for phase in reversed(PHASES):
            later = t.setdefault(phase, later)
        first_row = self.rows[0]["time"]
        # The starting point's answers are written after the first point now; only those before it delay it.
        step0_samples = sum(s.seconds for s in read_samples(self.paths.samples) if s.step == 0 and s.time <= first_row)
        return {
            "worker start: Python and imports (torch, transformers, peft, trl)": t["reading data"] - self.submitted,
            "reading and checking the data": t["loading model"] - t["reading data"],
            "model load + LoRA wrap": t["tokenising"] - t["loading model"],
            "tokenisation + trainer set-up": t["training"] - t["tokenising"],
            "sample answers at step 0 before the first point (written after it since issue 19)": step0_samples,
            "first training step": first_row - t["training"] - step0_samples,
        }


def _vm_hwm_mb(pid: int | None) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def run_job(runs_root: Path, data: Path, overrides: dict, preset: str = "quick-start") -> JobRecord:
    cfg = load_preset(preset)
    settings = {"model.name_or_path": "embedded", "data.path": str(data), **overrides}
    cfg = apply_overrides(cfg, [f"{k}={v}" for k, v in settings.items()])
    manager = JobManager(runs_root, poll_s=0.05)
    submitted = time.time()
    paths = manager.submit(cfg, "bench")
    record = JobRecord(paths, submitted, 0.0)
    while True:
        manager.poll()
        status = read_status(paths)
        now = time.time()
        if status.started and not record.started:
            record.started = status.started
        for phase in PHASES:
            if status.phase.startswith(phase) and phase not in record.phase_times:
                record.phase_times[phase] = now
        if status.state == "running":
            record.peak_rss_mb = max(record.peak_rss_mb, _vm_hwm_mb(status.pid))
        if status.state not in ("queued", "running") and not manager.running():
            break
        # Fine-grained until the first step, to time the start's parts; then at the dashboard's own tick, so
        # this instrument does not take CPU from the worker it measures (at 20 ms it cost ~3% on 2 cores).
        time.sleep(0.02 if "training" not in record.phase_times else 0.5)
    record.ended = time.time()
    if status.state != "completed":
        raise RuntimeError(
            f"bench run {paths.run_id} ended {status.state}: {status.error}\n{paths.log.read_text()[-3000:]}"
        )
    logs = [r for r in read_all(paths.metrics) if r.event == "log"]
    record.rows = [
        {"step": r.step, "time": r.time, "elapsed": r.elapsed_s, "num_tokens": r.tokens_seen, "loss": r.loss}
        for r in logs
    ]
    if len(record.rows) < 2:
        raise RuntimeError(f"bench run {paths.run_id} logged {len(record.rows)} row(s): give it more steps")
    first, last = record.rows[0], record.rows[-1]
    # Training time between the first and the last point: `elapsed` leaves out the starting point's sample answers,
    # written after the first point (the worker's own clock; the plain script has no such answers).
    seconds = last["elapsed"] - first["elapsed"]
    if first["num_tokens"] is not None and last["num_tokens"] is not None:  # TRL's experimental ORPO logs none
        record.tokens_per_s = (last["num_tokens"] - first["num_tokens"]) / seconds
    record.s_per_step = seconds / (last["step"] - first["step"])
    record.final_loss = last["loss"]
    record.first_loss_s = first["time"] - submitted
    record.trainable_params, record.total_params = status.trainable_params or 0, status.total_params or 0
    return record
