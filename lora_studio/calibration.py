"""Measured training speeds: a small JSON cache, and the subprocess that measures one.

A speed depends on the model, the device and the settings that change the work per optimizer
step, so the cache is keyed by exactly those (`CalibrationKey`). The Config tab's "Measure speed"
runs `python -m lora_studio.engine.calibrate` (its own process, like a training worker) and the
training worker may `record()` the speed it really reached. Plain files and subprocesses: no torch.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lora_studio import settings
from lora_studio.config import RunConfig
from lora_studio.runs import tail_lines, write_json_atomic

log = logging.getLogger(__name__)

CACHE_VERSION = 1
# Popen objects of measurements this server started, so finished ones are reaped (no zombies).
_RUNNING: dict[str, tuple[subprocess.Popen, CalibrationJob]] = {}


@dataclass(frozen=True)
class CalibrationKey:
    """Everything that changes the time of one optimizer step."""

    model: str
    device: str
    dtype: str
    load_in_8bit: bool
    r: int
    target_modules: str  # 'all-linear' or sorted, comma-separated names
    batch_size: int
    max_length: int
    gradient_checkpointing: bool
    gradient_accumulation: int

    def id(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class Calibration:
    sec_per_step: float
    tokens_per_sec: float
    measured_at: float = field(default_factory=time.time)
    source: str = "measured"  # "measured" (Measure speed) or "training" (a real run)

    @property
    def date(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.measured_at))


def key_for(cfg: RunConfig, device: str) -> CalibrationKey:
    """The key of `cfg` on `device` (a label such as 'cpu' or 'cuda:NVIDIA H100')."""
    targets = cfg.lora.target_modules
    target_text = targets if isinstance(targets, str) else ",".join(sorted(str(t) for t in targets))
    t = cfg.training
    return CalibrationKey(
        str(cfg.model.name_or_path),
        device,
        str(cfg.model.dtype),
        bool(cfg.model.load_in_8bit),
        int(cfg.lora.r),
        target_text,
        int(t.batch_size),
        int(cfg.data.max_length),
        bool(t.gradient_checkpointing),
        int(t.gradient_accumulation),
    )


def cache_path() -> Path:
    return settings.studio_home() / "calibration.json"


def _read_entries() -> dict[str, dict]:
    path = cache_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        # A damaged cache only costs a re-measurement; it must never block the Config tab.
        log.warning("Ignoring unreadable calibration cache %s (%s)", path, exc)
        return {}
    entries = data.get("entries") if isinstance(data, dict) else None
    return entries if isinstance(entries, dict) else {}


def lookup(key: CalibrationKey) -> Calibration | None:
    entry = _read_entries().get(key.id())
    if not isinstance(entry, dict):
        return None
    try:
        return Calibration(
            float(entry["sec_per_step"]),
            float(entry["tokens_per_sec"]),
            float(entry["measured_at"]),
            str(entry.get("source", "measured")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def record(key: CalibrationKey, sec_per_step: float, tokens_per_sec: float, source: str = "measured") -> Calibration:
    """Store a speed for `key` (the newest measurement replaces an older one)."""
    if not sec_per_step > 0:
        raise ValueError(f"sec_per_step must be positive, got {sec_per_step}")
    entry = Calibration(float(sec_per_step), float(tokens_per_sec), time.time(), source)
    entries = _read_entries()
    entries[key.id()] = {"key": asdict(key), **asdict(entry)}
    path = cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"version": CACHE_VERSION, "entries": entries})
    return entry


# ---- measuring in a subprocess --------------------------------------------------------------
@dataclass
class CalibrationJob:
    """One measurement started by this server; lives in the UI's gr.State as a dict."""

    folder: str
    pid: int
    started: float

    config = property(lambda self: Path(self.folder) / "config.yaml")
    result = property(lambda self: Path(self.folder) / "result.json")
    log = property(lambda self: Path(self.folder) / "calibrate.log")


@dataclass
class JobOutcome:
    state: str  # "running", "done" or "failed"
    message: str = ""
    result: dict = field(default_factory=dict)


def calibrations_dir() -> Path:
    return settings.studio_home() / "calibration"


def running_job() -> CalibrationJob | None:
    """The measurement this server is running now, if any (one at a time: they would skew each other)."""
    for folder, (proc, job) in list(_RUNNING.items()):
        if proc.poll() is None:
            return job
        _RUNNING.pop(folder, None)
    return None


def start_calibration(cfg: RunConfig, warmup: int = 2, steps: int = 3) -> CalibrationJob:
    """Start `python -m lora_studio.engine.calibrate` in its own session, output to a log file."""
    folder = calibrations_dir() / time.strftime("%Y%m%d-%H%M%S")
    n = 0
    while folder.exists():
        n += 1
        folder = folder.with_name(f"{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    folder.mkdir(parents=True)
    job = CalibrationJob(str(folder), 0, time.time())
    cfg.save(job.config)
    argv = [
        sys.executable,
        "-m",
        "lora_studio.engine.calibrate",
        "--config",
        str(job.config),
        "--out",
        str(job.result),
        "--warmup",
        str(warmup),
        "--steps",
        str(steps),
    ]
    with open(job.log, "w", encoding="utf-8") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=settings.PROJECT_ROOT,
            env=os.environ.copy(),
        )
    job.pid = proc.pid
    _RUNNING[str(folder)] = (proc, job)
    log.info("Measuring training speed (pid %d), log in %s", proc.pid, job.log)
    return job


def _alive(job: CalibrationJob) -> bool:
    entry = _RUNNING.get(job.folder)
    if entry is not None:
        if entry[0].poll() is None:
            return True
        _RUNNING.pop(job.folder, None)
        return False
    try:  # started by an earlier server process: only the pid is known
        os.kill(job.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def poll_calibration(job: CalibrationJob) -> JobOutcome:
    """running, done (with the result) or failed (with the reason and the log's last lines)."""
    if _alive(job) and not job.result.exists():
        return JobOutcome("running")
    try:
        result = json.loads(job.result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return JobOutcome(
            "failed", f"The measurement stopped without a result. Last lines of {job.log}:\n" + log_tail(job.log)
        )
    if result.get("error"):
        hint = f" {result['hint']}" if result.get("hint") else ""
        return JobOutcome("failed", f"{result['error']}.{hint}", result)
    return JobOutcome("done", "", result)


def log_tail(path: Path, lines: int = 8) -> str:
    return tail_lines(path, lines) or "(no log)"
