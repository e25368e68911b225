"""Before a training worker starts: `check_startable`, the one check of everything that can be refused
before any weights load (used by the CLI, the Train tab through JobManager, JobManager, the worker and the
speed measurement), and the worker's argv (one process, or `accelerate launch` for several). Starting
the process itself is `processes.start`. No torch here."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from lora_studio.adapters import start_adapter
from lora_studio.config import RunConfig
from lora_studio.config_checks import format_issues, require_valid
from lora_studio.dataset_rows import LoadedData, load_dataset_file, require_trainable
from lora_studio.errors import ConfigError, DataError, StudioError
from lora_studio.modelref import parse_model_ref
from lora_studio.reporting import check_reporting
from lora_studio.runs import RunPaths

log = logging.getLogger(__name__)

WorkerCommand = Callable[[RunPaths, bool], list[str]]


def uses_launcher(num_processes: int, accelerate_config: str = "") -> bool:
    """Several processes, or an accelerate config (FSDP, DeepSpeed), go through `accelerate launch`."""
    return int(num_processes) > 1 or bool(accelerate_config)


def worker_argv(
    run_dir: str | Path,
    resume: bool = False,
    num_processes: int = 1,
    accelerate_config: str = "",
    python: str = sys.executable,
) -> list[str]:
    """argv that trains the run in `run_dir` (a list: no shell, no quoting problems). One process runs the
    worker itself; more run the same worker module under `accelerate launch`, which starts one rank per
    process through torch's elastic launcher (DDP over NCCL on GPUs, gloo on CPU; FSDP or DeepSpeed when
    `accelerate_config` says so). Used by JobManager and by the CLI alike."""
    worker = ["-m", "lora_studio.engine.worker", "--run-dir", str(run_dir), *(["--resume"] if resume else [])]
    if not uses_launcher(num_processes, accelerate_config):
        return [python, *worker]
    launch = [python, "-m", "accelerate.commands.launch", "--num_processes", str(int(num_processes))]
    if accelerate_config:
        launch += ["--config_file", str(Path(accelerate_config).expanduser())]
    else:
        # Every choice spelled out: no warning about defaults, and a free port, so two runs can launch at once.
        launch += [
            "--multi_gpu",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            "0",
        ]
    return [*launch, *worker]


def worker_command(paths: RunPaths, resume: bool) -> list[str]:
    """argv for a run as its frozen config asks: the plain worker, or the worker under accelerate launch."""
    try:
        training = RunConfig.load(paths.config).training
        num_processes, accelerate_config = int(training.num_processes), str(training.accelerate_config or "")
    except (StudioError, OSError, TypeError, ValueError) as exc:
        # The worker itself reports a broken config in status.json; one process is enough for that.
        log.warning("Could not read the process count of %s (%s); starting one process", paths.run_id, exc)
        num_processes, accelerate_config = 1, ""
    return worker_argv(paths.root, resume, num_processes, accelerate_config)


def check_startable(cfg: RunConfig) -> LoadedData:
    """Refuse, with every reason and what to do, a run that could not start: invalid settings, no data or data
    that cannot train, a model reference that names nothing, a launcher config that is not there, a logging tool
    (training.report_to) that is not installed. Returns the data as read, so a caller that needs the rows does not
    read the file twice."""
    require_valid(cfg)
    if not cfg.data.path:
        raise DataError(
            "No dataset is selected",
            "Pick a sample or upload a file on the Data tab first",
        )
    data = load_dataset_file(cfg.data.path, cfg.data.format, cfg.data.columns)
    require_trainable(data)
    mismatch = format_issues(cfg, data.format)
    if mismatch:
        raise ConfigError(str(mismatch[0]), "Change the training method on the Config tab (--set training.method=…)")
    parse_model_ref(cfg.model.name_or_path)
    start_adapter(cfg)  # an earlier run's adapter to continue: there, usable and on the same base
    check_launch(cfg)
    check_reporting(cfg)
    return data


def check_launch(cfg: RunConfig) -> None:
    """Refuse what the launcher would refuse only after the run was queued."""
    path = str(cfg.training.accelerate_config or "")
    if path and not Path(path).expanduser().is_file():
        raise ConfigError(
            f"training.accelerate_config: there is no file {path}",
            "Write one with `accelerate config --config_file FILE`, or leave it empty for plain DDP",
        )
