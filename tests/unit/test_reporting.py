"""training.report_to: declared like every setting, refused before the run when its tool is not installed, and
the line that says where the logs are (Train tab, training log) for each tool, local-first. No tool is installed
here: each test says which package is there or not."""

from __future__ import annotations

import importlib.util
from importlib.machinery import ModuleSpec

import pytest

from lora_studio import __main__ as cli
from lora_studio import reporting
from lora_studio.cli_help import run_settings_epilog
from lora_studio.config import REPORT_TOOLS, RunConfig, apply_overrides, field_metadata
from lora_studio.errors import ConfigError
from lora_studio.jobs import JobManager
from lora_studio.launch import check_startable
from lora_studio.runs import RunPaths, RunStatus, create_run
from lora_studio.ui import config_view
from lora_studio.ui.train_view import describe, reports_line

_real_find_spec = importlib.util.find_spec


def packages(monkeypatch, installed: set[str], missing: set[str]) -> None:
    """Pretend the logging tools in `installed` are importable and those in `missing` are not."""

    def find_spec(name, *args, **kwargs):
        if name in missing:
            return None
        if name in installed:
            return ModuleSpec(name, None)
        return _real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def tool_config(chat_file, tool: str) -> RunConfig:
    return apply_overrides(RunConfig(), [f"data.path={chat_file}", f"training.report_to={tool}"])


def test_declared_once_an_advanced_choice_with_none_as_default():
    assert RunConfig().training.report_to == "none"
    meta = field_metadata("training.report_to")
    assert meta["choices"] == REPORT_TOOLS == ("none", "tensorboard", "trackio", "mlflow", "wandb")
    assert meta["level"] == "advanced" and meta["owner"] == "config"
    assert "pip install tensorboard" in meta["help"]
    spec = next(s for s in config_view.widget_specs() if s.name == "training.report_to")
    assert spec.kind == "dropdown" and spec.choices == REPORT_TOOLS and not spec.essential
    epilog = run_settings_epilog()
    assert "training.report_to (default 'none')" in epilog and "One of: none, tensorboard" in epilog


def test_an_unknown_tool_is_refused_on_the_command_line_with_the_choices(chat_file, studio_home, capsys):
    code = cli.main(["train", "--data", str(chat_file), "--set", "training.report_to=bogus"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1
    assert "training.report_to: must be one of none, tensorboard, trackio, mlflow, wandb, got 'bogus'" in errors[0]
    assert not (studio_home / "runs").exists() or not any((studio_home / "runs").iterdir())


@pytest.mark.parametrize(
    "tool,package,name",
    [
        ("tensorboard", "tensorboard", "TensorBoard"),
        ("trackio", "trackio", "Trackio"),
        ("mlflow", "mlflow", "MLflow"),
        ("wandb", "wandb", "Weights & Biases"),
    ],
)
def test_a_tool_that_is_not_installed_is_refused_before_the_run(monkeypatch, tmp_path, chat_file, tool, package, name):
    packages(monkeypatch, installed=set(), missing={package})
    cfg = tool_config(chat_file, tool)
    assert cfg.validate() == []  # a valid choice: what is missing is on this machine
    with pytest.raises(ConfigError) as refused:
        check_startable(cfg)
    assert refused.value.message == (
        f"training.report_to: {name} logging is chosen but the {package} package is not installed"
    )
    assert refused.value.hint.startswith(f"pip install {package}, or set 'Also send training curves to'")
    assert refused.value.hint.endswith("back to none")
    runs = tmp_path / "runs"
    with pytest.raises(ConfigError, match=f"the {package} package is not installed"):
        JobManager(runs).submit(cfg)  # the Train tab's start: nothing is queued
    assert not runs.exists() or not any(runs.iterdir())


def test_an_installed_tool_or_none_passes(monkeypatch, chat_file):
    packages(monkeypatch, installed={"tensorboard"}, missing={"tensorboard-never-asked"})
    check_startable(tool_config(chat_file, "tensorboard"))
    packages(monkeypatch, installed=set(), missing={"tensorboard", "trackio", "mlflow", "wandb"})
    check_startable(tool_config(chat_file, "none"))


def test_the_cli_refuses_a_missing_tool_in_one_line(monkeypatch, chat_file, studio_home, capsys):
    packages(monkeypatch, installed=set(), missing={"wandb"})
    code = cli.main(["train", "--data", str(chat_file), "--set", "training.report_to=wandb"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1
    assert "the wandb package is not installed" in errors[0] and "pip install wandb" in errors[0]


def test_local_first_locations_and_a_variable_the_user_set_wins(tmp_path):
    paths = RunPaths(tmp_path / "runs" / "20250101-000000-chat")
    assert reporting.report_env("none", paths, {}) == {}
    assert reporting.report_env("tensorboard", paths, {}) == {
        "TENSORBOARD_LOGGING_DIR": str(paths.root / "tensorboard")
    }
    assert reporting.report_env("trackio", paths, {}) == {"TRACKIO_DIR": str(paths.root / "trackio")}
    assert reporting.report_env("mlflow", paths, {}) == {
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'runs' / 'mlruns' / 'mlflow.db'}",  # shared by the runs
        "MLFLOW_EXPERIMENT_NAME": "lora-studio",
    }
    assert reporting.report_env("mlflow", paths, {"MLFLOW_TRACKING_URI": "http://tracking:5000"}) == {
        "MLFLOW_EXPERIMENT_NAME": "lora-studio"
    }
    assert reporting.report_env("wandb", paths, {}) == {
        "WANDB_DIR": str(paths.root),
        "WANDB_PROJECT": "lora-studio",
        "WANDB_MODE": "offline",  # no key: nothing leaves the machine
    }
    with_key = reporting.report_env("wandb", paths, {"WANDB_API_KEY": "secret", "WANDB_PROJECT": "mine"})
    assert with_key == {"WANDB_DIR": str(paths.root)}
    assert "secret" not in repr(with_key)  # the key stays in the environment it came from
    relative = RunPaths("run-here")  # a CLI --run-dir: the commands work from any folder
    assert reporting.report_env("tensorboard", relative, {})["TENSORBOARD_LOGGING_DIR"].startswith("/")


def test_the_line_says_where_the_logs_are_and_how_to_open_them(tmp_path):
    paths = RunPaths(tmp_path / "my runs" / "r1")
    root = str(paths.root)
    assert reporting.logs_line("none", paths, {}) == ""
    assert reporting.logs_line("tensorboard", paths, {}) == (
        f"📈 TensorBoard logs: `{root}/tensorboard` — open them with `tensorboard --logdir '{root}/tensorboard'`"
    )
    assert reporting.logs_line("trackio", paths, {}).endswith(
        f"`TRACKIO_DIR='{root}/trackio' trackio show --project lora-studio`"
    )
    store = f"sqlite:///{tmp_path}/my runs/mlruns/mlflow.db"
    assert reporting.logs_line("mlflow", paths, {}) == (
        f"📈 MLflow run `r1` in `{store}` — open it with `mlflow ui --backend-store-uri '{store}'`"
    )
    server = reporting.logs_line("mlflow", paths, {"MLFLOW_TRACKING_URI": "https://me:pw@mlflow.example:5000"})
    assert server == "📈 MLflow run `r1` goes to https://mlflow.example:5000 (your MLFLOW_TRACKING_URI)"
    offline = reporting.logs_line("wandb", paths, {})
    assert "offline (no WANDB_API_KEY in the environment)" in offline
    assert f"`wandb sync '{root}/wandb'/offline-run-*`" in offline
    online = reporting.logs_line("wandb", paths, {"WANDB_API_KEY": "secret"})
    assert online == f"📈 Weights & Biases project `lora-studio`, run `r1` (a local copy in `{root}/wandb`)"
    assert "offline (WANDB_MODE=offline)" in reporting.logs_line("wandb", paths, {"WANDB_MODE": "offline"})
    assert "turned off" in reporting.logs_line("wandb", paths, {"WANDB_MODE": "disabled"})


def test_the_train_tab_shows_the_line_under_the_run_state(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_DIR", raising=False)
    quiet = RunPaths(tmp_path / "quiet")
    create_run(quiet, RunConfig())
    assert reports_line(quiet) == ""
    paths = RunPaths(tmp_path / "logged")
    create_run(paths, apply_overrides(RunConfig(), ["training.report_to=wandb"]))
    line = reports_line(paths)
    assert line == reporting.logs_line("wandb", paths) and "offline" in line
    state = describe(RunStatus(state="queued"), "logged", 1)
    assert describe(RunStatus(state="queued"), "logged", 1, reports=line) == f"{state}\n\n{line}"
    # config.yaml names the tool only: no location, no mode, no key
    frozen = paths.config.read_text(encoding="utf-8")
    assert "report_to: wandb" in frozen and "WANDB" not in frozen and "offline" not in frozen
    paths.config.write_text("[", encoding="utf-8")
    assert reports_line(paths) == ""  # an unreadable config shows no line, never an error
