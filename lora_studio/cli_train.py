"""The command line's `train`: a run config from a preset or file plus flags, checked before any weights
load, then trained here (one process) or under `accelerate launch` (several), exactly as the dashboard would.

Every failure ends with one line on stderr and a non-zero exit: 1 when training failed, 2 when the input was
refused before training started.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from lora_studio import processes, settings
from lora_studio.config import RunConfig, apply_overrides, merge_dict
from lora_studio.errors import ConfigError, StudioError
from lora_studio.launch import check_startable, uses_launcher, worker_argv
from lora_studio.presets import load_preset
from lora_studio.runs import (
    ACTIVE_STATES,
    ADAPTER_STATES,
    RunPaths,
    create_run,
    new_run_dir,
    read_status,
    update_status,
)

log = logging.getLogger("lora_studio")


def fail(message: str, code: int) -> int:
    """The CLI's one way to end with an error: one line on stderr, and the exit code."""
    print(f"error: {message}", file=sys.stderr)
    return code


def build_config(args: argparse.Namespace) -> RunConfig:
    """Preset (or YAML file) → --data/--model → --set overrides; warnings are logged."""
    warnings: list[str] = []
    cfg = RunConfig.load(args.config, warnings) if args.config else load_preset(args.preset, warnings)
    direct: dict = {}
    if args.data:
        direct["data"] = {"path": str(Path(args.data).expanduser().resolve())}
    if args.model:
        direct["model"] = {"name_or_path": args.model}
    if getattr(args, "num_processes", None):
        direct["training"] = {"num_processes": args.num_processes}
    cfg = apply_overrides(merge_dict(cfg, direct), args.set or [])
    for warning in warnings:
        log.warning("warning: %s", warning)
    return cfg


def check_inputs(cfg: RunConfig) -> None:
    """Everything that can be refused before any weights load (launch.check_startable, as the dashboard does)."""
    if not cfg.data.path:  # the one check below words this for the dashboard; here the fix is a flag
        raise ConfigError("No training data was given", "Pass --data FILE")
    data = check_startable(cfg)
    log.info("data: %s, %d rows, format %s (%s)", Path(cfg.data.path).name, len(data.rows), data.format, data.reason)


def cmd_train(args: argparse.Namespace) -> int:
    from lora_studio.engine.worker import configure_logging, run

    configure_logging()
    if args.resume:
        paths = RunPaths(args.run_dir or "")
        if not paths.config.is_file():
            return fail(f"{paths.root} is not a run folder (no config.yaml); pass --run-dir of an earlier run", 2)
    else:
        try:
            cfg = build_config(args)
            check_inputs(cfg)
        except StudioError as exc:
            return fail(exc.one_line(), 2)
        if args.run_dir:
            paths = RunPaths(args.run_dir)
        else:
            paths = new_run_dir(settings.runs_dir(), args.preset if not args.config else Path(args.config).stem)
        try:
            create_run(paths, cfg)
        except StudioError as exc:
            return fail(exc.one_line(), 2)
    log.info("run folder: %s", paths.root)
    paths.stop.unlink(missing_ok=True)  # an old stop request must not end the new attempt
    try:
        training = RunConfig.load(paths.config).training
        count = args.num_processes or int(training.num_processes)
    except StudioError as exc:
        return fail(exc.one_line(), 2)
    except (TypeError, ValueError):
        return fail(f"training.num_processes in {paths.config} is not a whole number; pass --num-processes N", 2)
    if uses_launcher(count, training.accelerate_config):
        code = launch_worker(paths, args.resume, count, str(training.accelerate_config))
    else:
        code = run(paths.root, resume=args.resume)
    status = read_status(paths)
    if code != 0:
        return fail(StudioError(status.error or "training failed", status.hint).one_line(), code)
    return 0


def launch_worker(paths: RunPaths, resume: bool, count: int, accelerate_config: str = "") -> int:
    """Train through accelerate launch exactly as the dashboard does (same argv); 0 when the run completed
    or was stopped, 1 otherwise. Rank 0 prints the progress lines here."""
    argv = worker_argv(paths.root, resume, count, accelerate_config)
    log.info("%d processes: %s", count, shlex.join(argv))

    def record(worker: processes.Worker) -> None:
        # Recorded before the ranks get going, as JobManager does: a dashboard started meanwhile sees a live run.
        update_status(paths, state="running", phase="starting the worker", pid=worker.pid, pid_start=worker.pid_start)

    code: int | str = "unknown"
    try:
        code = processes.run_in_foreground(argv, record)
    finally:  # a Ctrl-C included: the launcher got it too and stops every rank; its end is the run's end
        if read_status(paths).state in ACTIVE_STATES:  # the launcher ended before rank 0 could report
            update_status(
                paths,
                state="failed",
                phase="failed",
                error_kind="internal",
                error=f"accelerate launch exited with code {code} before the training reported",
                hint="See the launcher's lines above; `accelerate env` shows its setup",
            )
    return 0 if read_status(paths).state in ADAPTER_STATES else 1
