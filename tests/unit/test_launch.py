"""How a run is launched: the plain worker for one process, accelerate launch for more, for the dashboard
and the CLI alike; the rank helpers the worker reads from the launcher's environment."""

from __future__ import annotations

import logging
import os
import shlex
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from lora_studio import __main__ as cli
from lora_studio import processes
from lora_studio.config import RunConfig, apply_overrides
from lora_studio.engine import distributed
from lora_studio.errors import ConfigError
from lora_studio.jobs import JobManager
from lora_studio.launch import check_launch, worker_argv, worker_command
from lora_studio.runs import RunPaths, create_run, read_status, run_summary, update_status
from lora_studio.ui import runs_view

WORKER_TAIL = ["-m", "lora_studio.engine.worker", "--run-dir"]


def accelerate_args(argv: list[str]):
    """argv as accelerate's own parser reads it (what `accelerate launch` would do with it)."""
    from accelerate.commands.launch import launch_command_parser

    assert argv[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    return launch_command_parser().parse_args(argv[3:])


def test_one_process_runs_the_worker_itself(tmp_path):
    assert worker_argv(tmp_path) == [sys.executable, *WORKER_TAIL, str(tmp_path)]
    assert worker_argv(tmp_path, resume=True, num_processes=1) == [
        sys.executable,
        *WORKER_TAIL,
        str(tmp_path),
        "--resume",
    ]


def test_several_processes_run_the_same_worker_under_accelerate_launch(tmp_path):
    args = accelerate_args(worker_argv(tmp_path, resume=True, num_processes=4))
    assert args.num_processes == 4 and args.multi_gpu and args.num_machines == 1
    assert args.mixed_precision == "no" and args.main_process_port == 0  # a free port: runs may overlap
    assert args.module and args.training_script == "lora_studio.engine.worker"
    assert args.training_script_args == ["--run-dir", str(tmp_path), "--resume"]


def test_an_accelerate_config_goes_through_the_launcher_even_for_one_process(tmp_path):
    config = tmp_path / "fsdp.yaml"
    args = accelerate_args(worker_argv(tmp_path, num_processes=1, accelerate_config=str(config)))
    assert args.config_file == str(config) and args.num_processes == 1
    assert not args.multi_gpu  # the config file says which kind of distribution
    assert args.training_script_args == ["--run-dir", str(tmp_path)]


def test_the_dashboard_reads_the_process_count_from_the_frozen_config(tmp_path):
    paths = RunPaths(tmp_path / "run")
    create_run(paths, apply_overrides(RunConfig(), ["training.num_processes=2"]))
    assert worker_command(paths, False) == worker_argv(paths.root, False, 2)
    paths.config.write_text("[", encoding="utf-8")  # unreadable: one process, whose worker reports the config
    assert worker_command(paths, True) == worker_argv(paths.root, True, 1)


def test_process_count_is_validated_and_a_missing_accelerate_config_refused(tmp_path, chat_file):
    issues = apply_overrides(RunConfig(), ["training.num_processes=0"]).validate()
    assert [i.field for i in issues] == ["training.num_processes"]
    cfg = apply_overrides(
        RunConfig(), [f"training.accelerate_config={tmp_path / 'none.yaml'}", f"data.path={chat_file}"]
    )
    with pytest.raises(ConfigError, match="accelerate_config"):
        check_launch(cfg)
    with pytest.raises(ConfigError, match="accelerate_config"):
        JobManager(tmp_path / "runs").submit(cfg)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing was queued


class FakeLauncher:
    """Stands in for subprocess.Popen in the process module when the CLI runs the launcher: records argv, then
    ends the way `finish` says."""

    argv: ClassVar[list[str]] = []  # the last launch's, read after the instance is gone

    def __init__(self, argv, finish, **kwargs) -> None:
        FakeLauncher.argv = list(argv)
        self.pid, self._finish = 4242, finish

    def wait(self) -> int:
        return self._finish(Path(FakeLauncher.argv[FakeLauncher.argv.index("--run-dir") + 1]))


def run_cli(monkeypatch, finish, *argv: str) -> int:
    from lora_studio import config_checks as config
    from lora_studio.engine import worker

    monkeypatch.setattr(processes.subprocess, "Popen", lambda args, **kw: FakeLauncher(args, finish, **kw))
    monkeypatch.setattr(config, "local_devices", lambda: ("GPU", 4))  # the fake launcher stands in for a 4-GPU box
    monkeypatch.setattr(worker, "configure_logging", lambda: None)  # it would replace pytest's log handlers
    FakeLauncher.argv = []
    return cli.main(["train", *argv])


def test_cli_num_processes_goes_through_the_same_launcher_argv(monkeypatch, tmp_path, chat_file):
    def complete(root: Path) -> int:
        assert read_status(RunPaths(root)).pid == 4242  # the launcher is recorded before the ranks start
        update_status(RunPaths(root), state="completed")
        return 0

    run_dir = tmp_path / "cli-run"
    code = run_cli(
        monkeypatch,
        complete,
        "--data",
        str(chat_file),
        "--model",
        "embedded",
        "--num-processes",
        "3",
        "--run-dir",
        str(run_dir),
    )
    assert code == 0
    assert FakeLauncher.argv == worker_argv(run_dir, False, 3)
    assert RunConfig.load(RunPaths(run_dir).config).training.num_processes == 3  # frozen with the run


def test_cli_reports_a_launcher_that_ended_before_training(monkeypatch, tmp_path, chat_file, capsys):
    run_dir = tmp_path / "cli-run"
    code = run_cli(
        monkeypatch,
        lambda root: 1,
        "--data",
        str(chat_file),
        "--model",
        "embedded",
        "--num-processes",
        "2",
        "--run-dir",
        str(run_dir),
    )
    status = read_status(RunPaths(run_dir))
    assert code == 1 and status.state == "failed" and "exited with code 1" in status.error
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "accelerate launch" in errors[0]


def test_cli_refuses_a_process_count_below_one(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(["train", "--num-processes", "0"])
    assert exc.value.code == 2 and "at least 1" in capsys.readouterr().err


def test_runs_tab_shows_the_command_for_another_machine(tmp_path):
    paths = RunPaths(tmp_path / "run")
    create_run(paths, apply_overrides(RunConfig(), ["training.num_processes=4", "data.path=/data/my chat.jsonl"]))
    line = runs_view.cli_commands(run_summary(paths)).splitlines()[-1]
    args = cli.build_parser().parse_args(shlex.split(line)[3:])
    assert (args.config, args.data, args.num_processes) == ("config.yaml", "my chat.jsonl", 4)


def test_rank_helpers_read_the_launchers_environment(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert distributed.launcher_pid() is None  # a plain worker records its own pid
    assert distributed.any_rank(True) and not distributed.any_rank(False)  # no process group: the local answer
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    assert (distributed.rank(), distributed.local_rank(), distributed.is_main()) == (1, 1, False)
    assert distributed.launcher_pid() == os.getppid()


def test_ranks_other_than_0_log_few_lines_each_with_its_rank(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    handler = logging.StreamHandler()
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])  # leave pytest's own handlers alone
    try:
        distributed.configure_logging()
        assert handler.formatter.format(logging.makeLogRecord({"msg": "hi"})) == "[rank 1] hi"
        assert not logging.getLogger("lora_studio.engine.train").isEnabledFor(logging.INFO)
        assert logging.getLogger("lora_studio.worker").isEnabledFor(logging.INFO)
    finally:
        logging.getLogger("lora_studio").setLevel(logging.NOTSET)
        logging.getLogger("lora_studio.worker").setLevel(logging.NOTSET)
