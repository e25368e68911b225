"""training.report_to in the trainer: TRL's report_to and run name, each tool's local location in the training
process's environment only while it trains, and (when tensorboard is installed) real event files in the run folder."""

from __future__ import annotations

import importlib.util
import logging
import os

import pytest

from lora_studio.config import RunConfig, apply_overrides
from lora_studio.engine.train import make_sft_config, reporting_environment, train
from lora_studio.reporting import logs_line
from lora_studio.runs import RunPaths
from tests.integration.helpers import new_run, tiny_config

VARIABLES = (
    "TENSORBOARD_LOGGING_DIR",
    "TRACKIO_DIR",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "WANDB_DIR",
    "WANDB_PROJECT",
    "WANDB_MODE",
    "WANDB_API_KEY",
)


@pytest.fixture
def clean_env(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def sft_config(tmp_path, tool: str):
    cfg = apply_overrides(RunConfig(), [f"training.report_to={tool}"])
    return make_sft_config(cfg, RunPaths(tmp_path / "20250101-000000-chat"), "cpu", False, True)


def test_trl_gets_the_chosen_tool_the_run_id_as_name_and_no_hub_space(tmp_path):
    assert sft_config(tmp_path, "none").report_to == []  # the default: the charts here only
    for tool in ("tensorboard", "trackio", "mlflow", "wandb"):
        args = sft_config(tmp_path, tool)
        assert args.report_to == [tool]
        assert args.run_name == "20250101-000000-chat"
        assert args.project == "lora-studio" and args.trackio_static_space_id is False and not args.trackio_space_id


@pytest.mark.usefixtures("clean_env")
def test_the_location_is_in_the_environment_only_while_training(tmp_path):
    paths = RunPaths(tmp_path / "runs" / "r1")
    with reporting_environment("tensorboard", paths) as env:
        assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(paths.tensorboard) == env["TENSORBOARD_LOGGING_DIR"]
    assert "TENSORBOARD_LOGGING_DIR" not in os.environ  # a later run in this process starts from the user's own
    with reporting_environment("mlflow", paths):
        assert os.environ["MLFLOW_TRACKING_URI"] == f"sqlite:///{paths.mlflow / 'mlflow.db'}"
        assert paths.mlflow.is_dir()  # SQLite makes the file, not its folder
    with reporting_environment("wandb", paths):
        assert os.environ["WANDB_MODE"] == "offline" and os.environ["WANDB_DIR"] == str(paths.root)
    assert not any(name in os.environ for name in VARIABLES)


def test_a_variable_the_user_set_is_kept_and_comes_back(tmp_path, monkeypatch, clean_env):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    monkeypatch.setenv("WANDB_API_KEY", "secret")
    paths = RunPaths(tmp_path / "r1")
    with reporting_environment("mlflow", paths):
        assert os.environ["MLFLOW_TRACKING_URI"] == "http://tracking:5000"
    with reporting_environment("wandb", paths):
        assert "WANDB_MODE" not in os.environ  # a key: W&B runs online, as its user asked
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://tracking:5000" and os.environ["WANDB_API_KEY"] == "secret"


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
@pytest.mark.usefixtures("clean_env")
def test_tensorboard_event_files_land_in_the_run_folder(tmp_path, tiny_model_dir, chat_file, caplog):
    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=2", "training.report_to=tensorboard")
    paths = new_run(tmp_path, cfg)
    with caplog.at_level(logging.INFO, logger="lora_studio"):
        result = train(cfg, paths)
    assert result.state == "completed"
    events = list(paths.tensorboard.glob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)
    assert not (paths.checkpoints / "runs").exists()  # not transformers' own default under output_dir
    assert logs_line("tensorboard", paths) in caplog.messages  # the training log says where, as the Train tab does
    assert "TENSORBOARD_LOGGING_DIR" not in os.environ
