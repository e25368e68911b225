"""Where a run's training curves also go (`training.report_to`): TensorBoard, Trackio, MLflow or Weights & Biases,
through TRL's `report_to`, local-first. Plain Python: no torch, no gradio.

- `check_reporting(cfg)` refuses a tool whose package is not installed, before the run starts (each tool is an
  optional install; `launch.check_startable` calls it);
- `report_env(tool, paths)` is the environment the training process sets for the tool while it trains:
  TensorBoard and Trackio log into the run folder, MLflow into `mlruns/` beside the runs (an SQLite store:
  MLflow 3 refuses its old file store) unless MLFLOW_TRACKING_URI is set, W&B keeps its files in the run folder
  and runs offline unless WANDB_API_KEY is set. A variable already set in the environment wins. It never holds a
  secret (W&B's key stays in the environment it came from) and is never written to disk: config.yaml only says
  which tool;
- `logs_line(tool, paths)` says where the logs are and how to open them (the Train tab, and the training log that
  the CLI prints).
"""

from __future__ import annotations

import importlib.util
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from lora_studio.config import RunConfig
from lora_studio.errors import ConfigError
from lora_studio.messages import field_label, text
from lora_studio.runs import RunPaths

PROJECT = "lora-studio"  # Trackio's project, W&B's project and MLflow's experiment, unless the environment names one
MLFLOW_DB = "mlflow.db"


@dataclass(frozen=True)
class Tool:
    name: str  # as people know it
    package: str  # the module transformers imports for it, and what pip installs


TOOLS = {
    "tensorboard": Tool("TensorBoard", "tensorboard"),
    "trackio": Tool("Trackio", "trackio"),
    "mlflow": Tool("MLflow", "mlflow"),
    "wandb": Tool("Weights & Biases", "wandb"),
}


def check_reporting(cfg: RunConfig) -> None:
    """Refuse a chosen tool whose package is not installed: without it the run would fail only once the model
    has loaded (transformers builds its callback with the trainer)."""
    tool = TOOLS.get(cfg.training.report_to)
    if tool is None or importlib.util.find_spec(tool.package) is not None:
        return
    raise ConfigError(
        f"training.report_to: {tool.name} logging is chosen but the {tool.package} package is not installed",
        f"pip install {tool.package}, or set '{field_label('training.report_to')}' (training.report_to) back to none",
    )


def mlflow_store_uri(paths: RunPaths) -> str:
    """The local MLflow store of the runs folder: one SQLite file in mlruns/, shared by its runs."""
    return f"sqlite:///{(paths.mlflow / MLFLOW_DB).absolute()}"


def report_env(tool: str, paths: RunPaths, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables the training process sets for `tool` (only those `environ`, the process's own by default,
    does not set already): where the tool writes, and W&B's offline mode when there is no key."""
    env = os.environ if environ is None else environ
    wanted: dict[str, str] = {}
    if tool == "tensorboard":
        wanted["TENSORBOARD_LOGGING_DIR"] = str(paths.tensorboard.absolute())
    elif tool == "trackio":
        wanted["TRACKIO_DIR"] = str(paths.trackio.absolute())
    elif tool == "mlflow":
        wanted["MLFLOW_TRACKING_URI"] = mlflow_store_uri(paths)
        wanted["MLFLOW_EXPERIMENT_NAME"] = PROJECT
    elif tool == "wandb":
        wanted["WANDB_DIR"] = str(paths.root.absolute())  # W&B writes into its wandb/ folder
        wanted["WANDB_PROJECT"] = PROJECT
        if not env.get("WANDB_API_KEY"):
            wanted["WANDB_MODE"] = "offline"  # local-first: nothing leaves the machine without a key
    return {key: value for key, value in wanted.items() if not env.get(key)}


def logs_line(tool: str, paths: RunPaths, environ: Mapping[str, str] | None = None) -> str:
    """Where `tool`'s logs of this run are and the command that opens them; '' when the run reports nowhere else.
    `environ` is the environment the training process starts from (the server's or the CLI's own by default)."""
    env = dict(os.environ if environ is None else environ)
    added = report_env(tool, paths, env)
    env.update(added)
    run = paths.run_id
    if tool == "tensorboard":
        path = env["TENSORBOARD_LOGGING_DIR"]
        return text("report.tensorboard", path=path, command=f"tensorboard --logdir {shlex.quote(path)}")
    if tool == "trackio":
        path = env["TRACKIO_DIR"]
        command = f"TRACKIO_DIR={shlex.quote(path)} trackio show --project {PROJECT}"
        return text("report.trackio", path=path, command=command)
    if tool == "mlflow":
        store = env["MLFLOW_TRACKING_URI"]
        if urlsplit(store).scheme not in ("", "file", "sqlite"):  # a tracking server
            return text("report.mlflow_server", run=run, store=_without_credentials(store))
        return text(
            "report.mlflow", run=run, store=store, command=f"mlflow ui --backend-store-uri {shlex.quote(store)}"
        )
    if tool == "wandb":
        path = str(Path(env["WANDB_DIR"]) / "wandb")
        mode = env.get("WANDB_MODE", "").strip().lower()
        if mode == "disabled":
            return text("report.wandb_disabled")
        if mode in ("offline", "dryrun"):
            why = text("report.wandb_no_key") if "WANDB_MODE" in added else f"WANDB_MODE={mode}"
            command = f"wandb sync {shlex.quote(path)}/offline-run-*"
            return text("report.wandb_offline", why=why, path=path, command=command)
        return text("report.wandb", project=env["WANDB_PROJECT"], run=run, path=path)
    return ""


def _without_credentials(uri: str) -> str:
    """A server address as it may be shown: without a user name and password written into it."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
