"""The run directory: the only link between the web server and a training worker.

runs/<run_id>/ holds config.yaml, status.json, metrics.jsonl, train.log, STOP, adapter/,
checkpoints/ and merged/. Everything here is plain file handling, no torch.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from lora_studio.config import RunConfig
from lora_studio.errors import ConfigError

STATES = ("queued", "running", "completed", "failed", "stopped", "interrupted")
FINAL_STATES = ("completed", "failed", "stopped", "interrupted")


class RunPaths:
    """Names of everything inside one run directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def run_id(self) -> str:
        return self.root.name

    config = property(lambda self: self.root / "config.yaml")
    status = property(lambda self: self.root / "status.json")
    metrics = property(lambda self: self.root / "metrics.jsonl")
    log = property(lambda self: self.root / "train.log")
    stop = property(lambda self: self.root / "STOP")
    adapter = property(lambda self: self.root / "adapter")
    adapter_init = property(lambda self: self.root / "adapter_init")
    checkpoints = property(lambda self: self.root / "checkpoints")
    merged = property(lambda self: self.root / "merged")


@dataclass
class RunStatus:
    state: str = "queued"
    pid: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    step: int = 0
    max_steps: int = 0
    phase: str = ""  # what the worker is doing now: loading model, tokenising, training, saving
    error: str = ""
    error_kind: str = ""
    hint: str = ""
    final_loss: float | None = None
    trainable_params: int | None = None
    total_params: int | None = None

    @classmethod
    def from_dict(cls, data: dict) -> RunStatus:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def write_json_atomic(path: Path, data: dict) -> None:
    """tmp file + os.replace: a reader sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_status(paths: RunPaths, status: RunStatus) -> None:
    write_json_atomic(paths.status, asdict(status))


def update_status(paths: RunPaths, **changes: object) -> RunStatus:
    status = read_status(paths)
    for key, value in changes.items():
        setattr(status, key, value)
    write_status(paths, status)
    return status


def read_status(paths: RunPaths) -> RunStatus:
    """The run's status; a missing or corrupt file becomes a status that says so."""
    try:
        data = json.loads(paths.status.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return RunStatus.from_dict(data)
    except FileNotFoundError:
        return RunStatus(state="queued")
    except (ValueError, OSError) as exc:
        return RunStatus(state="failed", error=f"status.json is unreadable ({exc})", error_kind="internal",
                         hint="The run's files are still on disk; resume or delete the run")


_SLUG_RE = re.compile(r"[^A-Za-z0-9_.-]+")


def new_run_dir(root: str | Path, name: str = "run") -> RunPaths:
    """Create runs/<timestamp>-<name>/ (unique even when two runs start in the same second)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    slug = _SLUG_RE.sub("-", name).strip("-")[:40] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        candidate = root / (f"{stamp}-{slug}" if n == 0 else f"{stamp}-{slug}-{n}")
        try:
            candidate.mkdir()
            return RunPaths(candidate)
        except FileExistsError:
            continue
    raise ConfigError(f"Could not create a run folder in {root}", "Delete old runs or choose another folder")


def create_run(paths: RunPaths, cfg: RunConfig) -> None:
    """Freeze the config and mark the run queued. Called once, before any worker starts."""
    paths.root.mkdir(parents=True, exist_ok=True)
    if paths.config.exists():
        raise ConfigError(f"{paths.root} already holds a run", "Pick a new run folder or resume that run")
    cfg.save(paths.config)
    write_status(paths, RunStatus(state="queued"))


def request_stop(paths: RunPaths) -> None:
    """Ask the worker to stop and save at the next step boundary."""
    paths.stop.write_text(str(time.time()), encoding="utf-8")


def list_runs(root: str | Path) -> list[RunPaths]:
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [RunPaths(p) for p in root.iterdir() if p.is_dir() and (p / "config.yaml").exists()]
    return sorted(runs, key=lambda r: r.root.name, reverse=True)
