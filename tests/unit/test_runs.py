from __future__ import annotations

import pytest

from lora_studio.config import RunConfig
from lora_studio.errors import ConfigError
from lora_studio.runs import RunPaths, create_run, list_runs, new_run_dir, read_status, request_stop, update_status


def test_create_run_freezes_config_and_queues(tmp_path):
    paths = new_run_dir(tmp_path, "my run!")
    assert "my-run" in paths.run_id
    create_run(paths, RunConfig())
    assert RunConfig.load(paths.config) == RunConfig()
    assert read_status(paths).state == "queued"
    with pytest.raises(ConfigError, match="already holds a run"):
        create_run(paths, RunConfig())
    assert list_runs(tmp_path)[0].root == paths.root


def test_run_dirs_are_unique_within_a_second(tmp_path):
    names = {new_run_dir(tmp_path, "x").run_id for _ in range(5)}
    assert len(names) == 5


def test_status_updates_are_atomic_and_leave_no_temp_files(tmp_path):
    paths = RunPaths(tmp_path)
    create_run(paths, RunConfig())
    update_status(paths, state="running", pid=123, step=4)
    status = read_status(paths)
    assert (status.state, status.pid, status.step) == ("running", 123, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".status.lock", "config.yaml", "status.json"]  # lock stays


def test_corrupt_status_is_explained(tmp_path):
    paths = RunPaths(tmp_path)
    paths.status.write_text("{not json")
    status = read_status(paths)
    assert status.state == "failed" and "unreadable" in status.error


def test_request_stop_creates_the_stop_file(tmp_path):
    paths = RunPaths(tmp_path)
    request_stop(paths)
    assert paths.stop.exists()
