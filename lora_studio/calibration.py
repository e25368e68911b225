"""Measured training speeds: a small JSON cache, and the worker process that measures one.

A speed depends on the model, the device and the settings that change the work per optimizer
step, so the cache is keyed by exactly those (`CalibrationKey`). The Config tab's "Measure speed"
runs `python -m lora_studio.engine.calibrate` (a worker process, started like a training worker) and the
training worker may `record()` the speed it really reached. Plain files and a worker process: no torch.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lora_studio import processes, settings
from lora_studio.config import RunConfig
from lora_studio.messages import text
from lora_studio.processes import WorkerStatus
from lora_studio.runs import tail_lines, write_json_atomic

log = logging.getLogger(__name__)

CACHE_VERSION = 4  # 2: the training method, 4-bit and DoRA are part of the key; 3: padding-free and compile;
# 4: the output layer skips the prompt on a CPU (speeds measured before are too slow)


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
    method: str = "sft"
    load_in_4bit: bool = False
    use_dora: bool = False
    padding_free: str = "auto"
    compiled: bool = False  # torch.compile: its steady speed (and Calibration.compile_s, the one-time cost)
    dropout: bool = True  # LoRA dropout on: compiled CPU steps with dropout were slower than eager, without faster

    def id(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class Calibration:
    sec_per_step: float
    tokens_per_sec: float
    measured_at: float = field(default_factory=time.time)
    source: str = "measured"  # "measured" (Measure speed) or "training" (a real run)
    flops: float = 0.0  # the rough model's FLOP/s that this speed comes to (estimates.effective_flops); 0: unknown
    compile_s: float = 0.0  # compiled speeds: the seconds torch.compile added before the steps ran at this speed

    @property
    def date(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.measured_at))


def key_for(cfg: RunConfig, device: str, compiled: bool = False) -> CalibrationKey:
    """The key of `cfg` on `device` (a label such as 'cpu' or 'cuda:NVIDIA H100'), eager or compiled steps."""
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
        str(t.method),
        bool(cfg.model.load_in_4bit),
        bool(cfg.lora.use_dora),
        str(t.padding_free),
        bool(compiled),
        float(cfg.lora.dropout) > 0,
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
            float(entry.get("flops", 0.0)),
            float(entry.get("compile_s", 0.0)),
        )
    except (KeyError, TypeError, ValueError):
        return None


def machine_flops(device: str, quantized: str) -> tuple[float, int] | None:
    """(FLOP/s, how many speeds it comes from): the median of what the speeds measured on `device` come to in the
    rough model, so that a setting never measured gets an ETA from this machine's real speed instead of an
    assumption. Speeds with the same quantization count when there are any (8-bit and 4-bit run at their own
    pace), else all. None when nothing was measured on `device`."""
    measured = []
    for entry in _read_entries().values():
        try:
            key, flops = entry["key"], float(entry.get("flops", 0.0))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if isinstance(key, dict) and key.get("device") == device and flops > 0:
            own = "8-bit" if key.get("load_in_8bit") else "4-bit" if key.get("load_in_4bit") else ""
            measured.append((own == quantized, flops))
    alike = [flops for same, flops in measured if same] or [flops for _, flops in measured]
    return (statistics.median(alike), len(alike)) if alike else None


def record(
    key: CalibrationKey,
    sec_per_step: float,
    tokens_per_sec: float,
    source: str = "measured",
    flops: float = 0.0,
    compile_s: float = 0.0,
) -> Calibration:
    """Store a speed for `key` (the newest measurement replaces an older one); `flops` is what it comes to in the
    rough model (estimates.effective_flops), when the caller knows the model's size; `compile_s` what compiling
    cost before a compiled run reached that speed."""
    if not sec_per_step > 0:
        raise ValueError(f"sec_per_step must be positive, got {sec_per_step}")
    entry = Calibration(float(sec_per_step), float(tokens_per_sec), time.time(), source, float(flops), compile_s)
    entries = _read_entries()
    entries[key.id()] = {"key": asdict(key), **asdict(entry)}
    path = cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"version": CACHE_VERSION, "entries": entries})
    return entry


# ---- measuring in a worker process -------------------------------------------------------------
@dataclass
class CalibrationJob:
    """One measurement started by this server; lives in the UI's gr.State as a dict."""

    folder: str
    pid: int
    started: float
    pid_start: str | None = None  # tells the measurement apart from a later process given the same pid

    config = property(lambda self: Path(self.folder) / "config.yaml")
    result = property(lambda self: Path(self.folder) / "result.json")
    log = property(lambda self: Path(self.folder) / "calibrate.log")

    def worker(self) -> processes.Worker | None:
        """The measuring process while it runs (found again by its pid and start time after a reload)."""
        return processes.attach(self.pid, self.pid_start, Path(self.folder))


@dataclass
class CalibrationStatus(WorkerStatus):
    """A measurement as the Config tab shows it: running, completed (with `result`) or failed (with `error`)."""

    result: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return text("calib.error_and_hint", error=self.error, hint=self.hint) if self.hint else self.error


def calibrations_dir() -> Path:
    return settings.studio_home() / "calibration"


_RUNNING: list[CalibrationJob] = []  # the measurement this server started last (one at a time)


def running_job() -> CalibrationJob | None:
    """The measurement this server is running now, if any (one at a time: they would skew each other)."""
    for job in list(_RUNNING):
        if job.worker() is not None:
            return job
        _RUNNING.remove(job)
    return None


def start_calibration(cfg: RunConfig, warmup: int = 2, steps: int = 3) -> CalibrationJob:
    """Start `python -m lora_studio.engine.calibrate` as a worker, its output in calibrate.log."""
    folder = calibrations_dir() / time.strftime("%Y%m%d-%H%M%S")
    n = 0
    while folder.exists():
        n += 1
        folder = folder.with_name(f"{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    folder.mkdir(parents=True)
    job = CalibrationJob(str(folder), 0, time.time())
    cfg.save(job.config)
    argv = processes.module_argv(
        "lora_studio.engine.calibrate",
        "--config",
        str(job.config),
        "--out",
        str(job.result),
        "--warmup",
        str(warmup),
        "--steps",
        str(steps),
    )
    worker = processes.start(argv, job.log, "speed measurement started", marker=folder)
    job.pid, job.pid_start = worker.pid, worker.pid_start
    _RUNNING[:] = [job]
    log.info("Measuring training speed (pid %d), log in %s", worker.pid, job.log)
    return job


def poll_calibration(job: CalibrationJob) -> CalibrationStatus:
    """running, completed (with the result) or failed (with the reason and the log's last lines)."""
    base: dict[str, Any] = {"pid": job.pid, "pid_start": job.pid_start, "started": job.started}
    if job.worker() is not None and not job.result.exists():
        return CalibrationStatus(state="running", phase="measuring", **base)
    try:
        result = json.loads(job.result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return CalibrationStatus(
            state="failed",
            error_kind="killed",
            **base,
            error=text("calib.no_result", log=job.log, tail=log_tail(job.log)),
        )
    if result.get("error"):
        return CalibrationStatus(
            state="failed",
            error=str(result["error"]),
            hint=str(result.get("hint") or ""),
            error_kind=str(result.get("kind") or "internal"),
            result=result,
            **base,
        )
    return CalibrationStatus(state="completed", result=result, **base)


def log_tail(path: Path, lines: int = 8) -> str:
    return tail_lines(path, lines) or text("calib.no_log")
