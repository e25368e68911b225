"""Subprocess entry for one training run: `python -m lora_studio.engine.worker --run-dir DIR`.

Reads the frozen config, moves status.json through running → completed/stopped/failed and
classifies failures (config, data, model, out of memory, internal) with a hint for the user.
The CLI calls `run()` in-process; the job manager starts this module as its own process. With
several processes both start it under `accelerate launch`: every rank runs `main()`, rank 0 alone
writes the run directory (see engine/distributed.py).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import re
import signal
import time
import traceback
import warnings
from pathlib import Path

from lora_studio import logs
from lora_studio.config import RunConfig
from lora_studio.engine import distributed
from lora_studio.errors import StudioError
from lora_studio.messages import remember_how_to_say_again, text
from lora_studio.metrics import MetricRow, format_progress, read_all
from lora_studio.processes import process_start_time
from lora_studio.runs import RunPaths, read_status, update_status

log = logging.getLogger("lora_studio.worker")


# Allocation failures as the libraries word them: CUDA's "out of memory", torch's CPU allocator
# ("DefaultCPUAllocator: can't allocate memory ... Error code 12"), C++'s std::bad_alloc.
_OOM_WORDS = ("out of memory", "can't allocate memory", "cannot allocate memory", "bad_alloc")
# Failed writes: Python's OSError carries an errno; safetensors and tokenizers (Rust) and torch.save only words.
_DISK_ERRNOS = {  # → the message id of the reason
    errno.ENOSPC: "worker.disk.full",
    errno.EDQUOT: "worker.disk.quota",
    errno.EFBIG: "worker.disk.file_size",
    errno.EROFS: "worker.disk.read_only",
}
_DISK_WORDS = {
    "no space left on device": "worker.disk.full",
    "disk quota exceeded": "worker.disk.quota",
    "file too large": "worker.disk.file_size",
    "read-only file system": "worker.disk.read_only",
    "file write failed": "worker.disk.not_written",
}


def classify(exc: BaseException) -> tuple[str, str, str]:
    """(kind, message, hint) for a failure, in words a user can act on."""
    if isinstance(exc, StudioError):
        return exc.kind, exc.message, exc.hint
    import torch

    said = str(exc).strip()
    first = said.splitlines()[0] if said else ""
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or any(w in said.lower() for w in _OOM_WORDS):
        asked = re.search(r"tried to allocate (\d+) bytes", said)
        more = text("worker.oom_asked", mib=int(asked.group(1)) / 2**20) if asked else ""
        return "out_of_memory", text("worker.oom", error=type(exc).__name__, more=more), text("worker.oom_hint")
    reason = _DISK_ERRNOS.get(exc.errno) if isinstance(exc, OSError) and exc.errno is not None else None
    reason = reason or next((r for w, r in _DISK_WORDS.items() if w in said.lower()), None)
    if reason:
        return "disk", text("worker.disk", reason=text(reason), detail=first[:400]), text("worker.disk_hint")
    if isinstance(exc, PermissionError):
        return "disk", text("worker.permission", error=str(exc)), text("worker.permission_hint")
    return (
        "internal",
        text("worker.internal", error=type(exc).__name__, detail=first[:400]),
        text("worker.internal_hint"),
    )


def run(run_dir: str | Path, resume: bool = False) -> int:
    """Train the run in `run_dir`; 0 when it completed or was stopped, 1 when it failed.

    A STOP file is honoured even when it came before this process got going: whoever starts an
    attempt (JobManager, the CLI) clears the old one first."""
    paths = RunPaths(run_dir)
    main_rank = distributed.is_main()  # only rank 0 writes the run directory; every rank trains
    if main_rank:
        pid = distributed.launcher_pid() or os.getpid()  # under a launcher, its life is the run's
        update_status(
            paths,
            state="running",
            pid=pid,
            pid_start=process_start_time(pid),
            started=time.time(),
            finished=None,
            phase="starting",
            error="",
            error_kind="",
            hint="",
        )
    else:
        log.info("rank %d of %d started", distributed.rank(), distributed.world_size())

    def on_phase(name: str, info: dict) -> None:
        changes = {k: v for k, v in info.items() if k in ("trainable_params", "total_params", "max_steps")}
        update_status(paths, phase=name, **changes)

    def on_row(row: MetricRow) -> None:
        log.info("%s", format_progress(row))
        if row.event == "log":
            update_status(paths, step=row.step, max_steps=row.max_steps)

    try:
        from lora_studio.engine.train import train  # inside the try: a broken install is a failure, not a kill

        distributed.set_device()
        warnings: list[str] = []
        cfg = RunConfig.load(paths.config, warnings)
        for warning in warnings:
            log.warning("%s", warning)
        result = train(
            cfg, paths, on_row=on_row if main_rank else None, on_phase=on_phase if main_rank else None, resume=resume
        )
    except KeyboardInterrupt:
        _end_status(
            paths,
            state="interrupted",
            phase="interrupted",
            finished=time.time(),
            error=text("worker.interrupted"),
            error_kind="killed",
            hint=text("worker.interrupted_hint", run_dir=str(paths.root)),
        )
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is classified for the UI
        kind, message, hint = classify(exc)
        if kind == "internal":
            log.error("%s", traceback.format_exc())
        if not main_rank:
            message = f"rank {distributed.rank()}: {message}"
        _end_status(
            paths, state="failed", phase="failed", finished=time.time(), error=message, error_kind=kind, hint=hint
        )
        log.error("Training failed: %s", StudioError(message, hint, kind).one_line())
        return 1
    if not main_rank:
        log.info(
            "rank %d of %d: %s at step %d/%d",
            distributed.rank(),
            distributed.world_size(),
            result.state,
            result.step,
            result.max_steps,
        )
        return 0
    update_status(
        paths,
        state=result.state,
        phase=result.state,
        finished=time.time(),
        step=result.step,
        max_steps=result.max_steps,
        final_loss=result.final_loss,
    )
    if distributed.world_size() == 1:  # the speed cache's key does not count processes
        _record_speed(cfg, paths, result.total_params, result.compiled)
    if result.state == "completed" and cfg.training.evaluate_at_end and cfg.data.eval_fraction > 0:
        _evaluate_at_end(result, cfg, paths)
    log.info(
        "Run %s: %s at step %d/%d, adapter saved to %s",
        result.state,
        paths.run_id,
        result.step,
        result.max_steps,
        result.adapter_dir,
    )
    return 0


def _evaluate_at_end(result, cfg: RunConfig, paths: RunPaths) -> None:
    """Score base vs adapter on the held-out rows (the Evaluate tab's worker, in this process); the run stays
    completed whatever happens here, its phase says what this process is still doing."""
    import gc

    from lora_studio.engine.eval_worker import evaluate_held_out

    result.model = None  # free the training copy first: the evaluation loads the base and the saved adapter
    gc.collect()
    update_status(paths, phase="scoring the held-out rows (see the Evaluate tab)")
    try:
        folder = evaluate_held_out(paths, cfg)
    finally:
        update_status(paths, phase=result.state)
    if folder is not None:
        log.info("Held-out scores saved to %s", folder)


def _end_status(paths: RunPaths, **changes) -> None:
    """Write how this attempt ended. With several ranks the first report wins: one rank's failure makes the
    others fail next (a broken collective, the launcher's SIGTERM), and their reports would hide the cause."""
    if distributed.world_size() > 1 and read_status(paths).state != "running":
        return
    update_status(paths, **changes)


def _record_speed(cfg: RunConfig, paths: RunPaths, all_params: int, compiled: bool = False) -> None:
    """Store the speed this run really reached, so the Config tab's next ETA for these settings is measured, and
    the rough ETA of other settings learns this machine's pace. Counted from the first logged step on, so model
    loading and the starting point's sample answers are left out; checkpoints and later samples are in.
    A compiled run stores its own speed, apart: the steady pace of its second half, and what compiling cost
    before it (what training.compile's auto weighs)."""
    from lora_studio import calibration
    from lora_studio.engine.preflight import device_label
    from lora_studio.estimates import effective_flops

    logs = [r for r in read_all(paths.metrics) if r.event == "log" and r.elapsed_s is not None]
    if compiled:
        measured = compiled_speed(logs)
        if measured is not None:
            sec_per_step, tokens_per_sec, compile_s = measured
            _store(
                calibration.key_for(cfg, device_label(), compiled=True), sec_per_step, tokens_per_sec, 0.0, compile_s
            )
        return
    if len(logs) < 2 or logs[-1].step <= logs[0].step:
        return
    first, last = logs[0], logs[-1]
    assert first.elapsed_s is not None and last.elapsed_s is not None  # the filter above
    seconds = last.elapsed_s - first.elapsed_s
    tokens = (last.tokens_seen or 0) - (first.tokens_seen or 0)
    speed = tokens / seconds if seconds > 0 else 0.0
    _store(
        calibration.key_for(cfg, device_label()),
        seconds / (last.step - first.step),
        speed,
        effective_flops(cfg, all_params, speed),
    )


def compiled_speed(logs: list) -> tuple[float, float, float] | None:
    """(seconds per step, tokens/s, compile seconds) of a compiled run's logged rows: the pace from the middle row
    to the last, and the time before the middle row beyond that pace. None with fewer than 4 rows."""
    if len(logs) < 4:
        return None
    middle, last = logs[len(logs) // 2], logs[-1]
    steps, seconds = last.step - middle.step, last.elapsed_s - middle.elapsed_s
    if steps <= 0 or seconds <= 0:
        return None
    sec_per_step = seconds / steps
    tokens = (last.tokens_seen or 0) - (middle.tokens_seen or 0)
    return sec_per_step, tokens / seconds, max(middle.elapsed_s - middle.step * sec_per_step, 0.0)


def _store(key, sec_per_step: float, tokens_per_sec: float, flops: float, compile_s: float = 0.0) -> None:
    from lora_studio import calibration

    try:
        calibration.record(key, sec_per_step, tokens_per_sec, source="training", flops=flops, compile_s=compile_s)
    except (OSError, ValueError) as exc:  # a speed note must never turn a finished run into a failure
        log.warning("Could not store the measured speed: %s", exc)


def configure_logging() -> None:
    """Plain lines for people; library chatter kept to warnings."""
    logs.to_stdout(force=True)
    for noisy in ("transformers", "datasets", "peft", "trl", "accelerate", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # bitsandbytes warns at import about optional 4-bit CPU kernels that 8-bit training never uses.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    # Deprecation notices inside the libraries are not something a user can act on.
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "warning")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM (Cancel in the dashboard) takes the same path as Ctrl-C: status says interrupted.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    remember_how_to_say_again()  # the errors written into the status file can be said again on a page
    parser = argparse.ArgumentParser(prog="lora_studio.engine.worker", description=__doc__)
    parser.add_argument("--run-dir", required=True, help="run directory holding config.yaml")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    args = parser.parse_args(argv)
    configure_logging()
    distributed.configure_logging()
    distributed.die_with_launcher()
    if not RunPaths(args.run_dir).config.is_file():
        log.error("No config.yaml in %s: create the run first", args.run_dir)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = run(args.run_dir, resume=args.resume)
    except KeyboardInterrupt:
        code = 130
    distributed.shutdown()
    if distributed.is_main():
        log.info("final status: %s", read_status(RunPaths(args.run_dir)).state)
    return code


if __name__ == "__main__":
    from lora_studio.processes import exit_worker

    exit_worker(main())
