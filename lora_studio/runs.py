"""The run directory: the only link between the web server and a training worker.

runs/<run_id>/ holds config.yaml, status.json, metrics.jsonl, samples.jsonl, train.log,
worker.pid (written by jobs), STOP, adapter/, adapter_init/ (OLoRA/PiSSA), checkpoints/,
merged/<dtype>/ and exports/ (see exports.py). Everything here is plain file handling, no torch.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lora_studio.config import RunConfig

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]  # the lock is skipped where there is no fcntl
from lora_studio.errors import ConfigError, StudioError
from lora_studio.messages import status_words, text
from lora_studio.metrics import MetricRow, latest_per_step, read_all
from lora_studio.processes import WorkerStatus
from lora_studio.settings import runs_dir

log = logging.getLogger(__name__)

FINAL_STATES = ("completed", "failed", "stopped", "interrupted", "cancelled")
ACTIVE_STATES = ("queued", "running")
RESUMABLE_STATES = ("stopped", "failed", "interrupted", "cancelled")
ADAPTER_STATES = ("completed", "stopped")  # runs whose adapter/ was saved at the end (export, Playground, Try)


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
    samples = property(lambda self: self.root / "samples.jsonl")
    log = property(lambda self: self.root / "train.log")
    stop = property(lambda self: self.root / "STOP")
    adapter = property(lambda self: self.root / "adapter")
    adapter_init = property(lambda self: self.root / "adapter_init")
    checkpoints = property(lambda self: self.root / "checkpoints")
    merged = property(lambda self: self.root / "merged")
    exports = property(lambda self: self.root / "exports")
    data_stats = property(lambda self: self.root / "data_stats.json")  # what the model card says of the data
    # Where training.report_to's tools write (reporting.py): TensorBoard and Trackio in the run folder, W&B's
    # offline runs in its wandb/; MLflow's store is shared by every run of the runs folder, so runs compare there.
    tensorboard = property(lambda self: self.root / "tensorboard")
    trackio = property(lambda self: self.root / "trackio")
    wandb = property(lambda self: self.root / "wandb")
    mlflow = property(lambda self: self.root.parent / "mlruns")


@dataclass
class RunStatus(WorkerStatus):
    """status.json of a run: the worker's fields (`WorkerStatus`) and training's own."""

    state: str = "queued"
    created: float = field(default_factory=time.time)
    step: int = 0
    max_steps: int = 0
    final_loss: float | None = None
    trainable_params: int | None = None
    total_params: int | None = None
    queued_at: float | None = None  # queue order
    resume: bool = False  # the queued attempt continues from the last checkpoint


def write_json_atomic(path: Path, data: dict) -> None:
    """tmp file + os.replace: a reader sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_status(paths: RunPaths, status: RunStatus) -> None:
    write_json_atomic(paths.status, asdict(status))


@contextmanager
def _status_lock(paths: RunPaths) -> Iterator[None]:
    """The server and the worker both update status.json; a file lock keeps either from writing back
    a state it read before the other's change (e.g. 'running' over a just-written 'completed')."""
    if fcntl is None:  # not on Linux/macOS: no cross-process lock, updates stay atomic per write
        yield
        return
    with (paths.root / ".status.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def update_status(paths: RunPaths, **changes: object) -> RunStatus:
    with _status_lock(paths):
        status = read_status(paths)
        status.change(changes)
        write_status(paths, status)
    return status


def read_status(paths: RunPaths) -> RunStatus:
    """The run's status; a missing or corrupt file becomes a status that says so (in the current language: it is
    read to be shown, and written back only by an update that replaces its error)."""
    try:
        data = json.loads(paths.status.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return RunStatus.from_dict(data)
    except FileNotFoundError:
        return RunStatus(
            state="failed",
            error=text("runs_core.status_missing"),
            error_kind="internal",
            hint=text("runs_core.status_missing_hint"),
        )
    except (ValueError, OSError) as exc:
        return RunStatus(
            state="failed",
            error=text("runs_core.status_unreadable", error=exc),
            error_kind="internal",
            hint=text("runs_core.status_unreadable_hint"),
        )


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
    raise ConfigError(text("runs_core.no_folder", root=root), text("runs_core.no_folder_hint"))


def create_run(paths: RunPaths, cfg: RunConfig) -> None:
    """Freeze the config and mark the run queued. Called once, before any worker starts."""
    paths.root.mkdir(parents=True, exist_ok=True)
    if paths.config.exists():
        raise ConfigError(text("runs_core.folder_taken", root=paths.root), text("runs_core.folder_taken_hint"))
    # Status first: a run is listed once config.yaml exists, and by then its status is readable.
    write_status(paths, RunStatus(state="queued"))
    cfg.save(paths.config)


def request_stop(paths: RunPaths) -> None:
    """Ask the worker to stop and save at the next step boundary."""
    paths.stop.write_text(str(time.time()), encoding="utf-8")


def tail_lines(path: Path, lines: int = 20, max_bytes: int = 64 * 1024) -> str | None:
    """The last `lines` lines of a text file, reading only its end (a long run's log is large);
    None when it cannot be read."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - max_bytes))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def has_checkpoint(paths: RunPaths) -> bool:
    """A Trainer checkpoint (checkpoints/checkpoint-N/) that a resume can start from."""
    folder = paths.checkpoints
    return folder.is_dir() and any(p.is_dir() and p.name.startswith("checkpoint-") for p in folder.iterdir())


# Files every Trainer checkpoint of a LoRA run has, whatever the launcher (optimizer files differ with FSDP and
# DeepSpeed). trainer_state.json is written last, so a save cut short (a kill, a full disk) lacks at least that.
CHECKPOINT_FILES = ("adapter_config.json", "adapter_model.safetensors", "trainer_state.json")


def missing_checkpoint_files(folder: Path) -> list[str]:
    return [name for name in CHECKPOINT_FILES if not (folder / name).is_file()]


def resumable_checkpoint(paths: RunPaths, log_skipped: bool = True) -> Path | None:
    """The newest complete checkpoint; None when the run saved none. Incomplete ones are skipped (logged, unless
    `log_skipped` is False); when every checkpoint is incomplete, a ConfigError says what each one lacks."""
    folder = paths.checkpoints
    found = (
        [p for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)]
        if folder.is_dir()
        else []
    )
    incomplete: list[tuple[str, str]] = []  # (checkpoint, the files it lacks)
    for candidate in sorted(found, key=lambda p: int(p.name.split("-")[1]), reverse=True):
        missing = missing_checkpoint_files(candidate)
        if not missing:
            for name, lacks in incomplete if log_skipped else ():
                log.warning("%s lacks %s: resuming from %s instead", name, lacks, candidate.name)
            return candidate
        incomplete.append((candidate.name, ", ".join(missing)))
    if incomplete:
        problems = text("runs_core.list_separator").join(
            text("runs_core.checkpoint_lacks", checkpoint=name, files=lacks) for name, lacks in incomplete
        )
        raise ConfigError(
            text("runs_core.no_complete_checkpoint", run_id=paths.run_id, problems=problems),
            text("runs_core.no_complete_checkpoint_hint"),
        )
    return None


def list_runs(root: str | Path) -> list[RunPaths]:
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [RunPaths(p) for p in root.iterdir() if p.is_dir() and (p / "config.yaml").exists()]
    return sorted(runs, key=lambda r: r.root.name, reverse=True)


def delete_run(paths: RunPaths, root: str | Path | None = None) -> None:
    """Remove one run folder; refused outside `root` (default: the runs folder) or while the run is active."""
    base = Path(root if root is not None else runs_dir()).resolve()
    if paths.root.is_symlink() or paths.root.resolve().parent != base:
        raise ConfigError(
            text("runs_core.outside_runs", root=paths.root, base=base), text("runs_core.outside_runs_hint")
        )
    if not paths.config.is_file() and not paths.status.is_file():
        raise ConfigError(text("runs_core.not_a_run", root=paths.root), text("runs_core.not_a_run_hint"))
    state = read_status(paths).state
    if state in ACTIVE_STATES:
        raise ConfigError(
            text("runs_core.still_active", run_id=paths.run_id, state=status_words(state)),
            text("runs_core.still_active_hint"),
        )
    shutil.rmtree(paths.root)


@dataclass
class RunSummary:
    """What a run list shows about one run, read without ever raising for a damaged run folder."""

    paths: RunPaths
    status: RunStatus
    config: RunConfig | None  # None when config.yaml cannot be read; config_error says why
    config_error: str = ""
    rows: list[MetricRow] = field(default_factory=list)

    @property
    def final_loss(self) -> float | None:
        """The last logged training loss: the chart's last raw point (status.json's copy when no metrics)."""
        losses = [r.loss for r in self.rows if r.event == "log" and r.loss is not None]
        return losses[-1] if losses else self.status.final_loss

    @property
    def eval_loss(self) -> float | None:
        losses = [r.eval_loss for r in self.rows if r.event == "eval" and r.eval_loss is not None]
        return losses[-1] if losses else None

    @property
    def steps(self) -> tuple[int, int]:
        """(done, total): from status.json, or the last metrics row when the status lost them."""
        step, total = self.status.step, self.status.max_steps
        if self.rows and not total:
            step, total = max(step, self.rows[-1].step), self.rows[-1].max_steps
        return step, total


def run_summary(paths: RunPaths) -> RunSummary:
    """Status, config and metric rows of one run; a torn metrics line is skipped, a bad config noted."""
    config, config_error = None, ""
    try:
        config = RunConfig.load(paths.config)
    except (StudioError, OSError, ValueError) as exc:
        config_error = text("runs_core.config_unreadable", error=exc)
    return RunSummary(paths, read_status(paths), config, config_error, latest_per_step(read_all(paths.metrics)))
