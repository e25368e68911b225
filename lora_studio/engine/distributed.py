"""Which process of a multi-process run this is, and the one collective the run needs.

A launcher (`accelerate launch`, `torchrun`) tells each process its place in RANK, WORLD_SIZE
and LOCAL_RANK; a plain `python -m lora_studio.engine.worker` has none of them and is rank 0 of 1.
Only rank 0 writes the run directory; every rank trains. torch is imported inside the functions
that need it, so the worker can ask "am I rank 0?" before its heavy imports.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys

from lora_studio.errors import ConfigError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """True in the one process that writes status, metrics, samples and the adapter."""
    return rank() == 0


def under_elastic_launcher() -> bool:
    """Started by torch's elastic agent (torchrun, or `accelerate launch` for DDP/FSDP/DeepSpeed)."""
    return "TORCHELASTIC_RUN_ID" in os.environ and world_size() > 1


def launcher_pid() -> int | None:
    """The launcher's pid: the process whose life is the run's (it ends when any rank fails, and the
    ranks end with it). None when this process is not a launcher's child."""
    return os.getppid() if under_elastic_launcher() else None


def die_with_launcher() -> None:
    """Make the kernel kill this rank when its launcher dies.

    torch's elastic agent starts every rank in a session of its own, so a signal to the launcher's
    process group never reaches them; without this, a launcher killed after a cancel's grace period
    (or by the OOM killer) would leave ranks behind, blocked in a collective forever."""
    if not under_elastic_launcher() or not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            log.warning("Could not tie rank %d to its launcher (errno %d)", rank(), ctypes.get_errno())
            return
    except (OSError, AttributeError) as exc:
        log.warning("Could not tie rank %d to its launcher (%s)", rank(), exc)
        return
    if os.getppid() != parent:  # the launcher died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)


def set_device() -> None:
    """One GPU per rank: `cuda` then means cuda:LOCAL_RANK for every later `.to("cuda")`."""
    if world_size() <= 1:
        return
    import torch

    if not torch.cuda.is_available():
        return
    if local_rank() >= torch.cuda.device_count():
        raise ConfigError(
            f"training.num_processes asks for more processes on this machine than the "
            f"{torch.cuda.device_count()} GPU(s) it has (rank {local_rank()} has none)",
            "Set training.num_processes to the number of GPUs, or fewer",
        )
    torch.cuda.set_device(local_rank())


def any_rank(flag: bool) -> bool:
    """True on every rank when `flag` is true on at least one (a MAX all-reduce).

    Each rank must call it at the same point; without a process group it is just `flag`."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
        return bool(flag)
    import torch

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def shutdown() -> None:
    """Leave the process group cleanly (torch warns at exit otherwise)."""
    if world_size() <= 1 or "torch.distributed" not in sys.modules:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def configure_logging() -> None:
    """With several ranks: every line names its rank, and ranks other than 0 keep only the worker's
    own few lines (start, end, failures) and warnings, so train.log is not N copies of one run."""
    if world_size() <= 1:
        return
    prefix = f"[rank {rank()}] "
    for handler in logging.getLogger().handlers:
        handler.setFormatter(logging.Formatter(prefix + "%(message)s"))
    if not is_main():
        logging.getLogger("lora_studio").setLevel(logging.WARNING)
        logging.getLogger("lora_studio.worker").setLevel(logging.INFO)
