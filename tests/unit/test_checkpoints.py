"""Which checkpoint a resume may use: the newest complete one, never a save cut short or a folder that lost a file."""

from __future__ import annotations

import pytest

from lora_studio.errors import ConfigError
from lora_studio.runs import CHECKPOINT_FILES, RunPaths, missing_checkpoint_files, resumable_checkpoint


def checkpoint(paths: RunPaths, step: int, files=CHECKPOINT_FILES):
    folder = paths.checkpoints / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_bytes(b"x")
    return folder


def test_no_checkpoint_folder_means_nothing_to_resume(tmp_path):
    assert resumable_checkpoint(RunPaths(tmp_path)) is None
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "README.md").write_text("peft writes this")
    assert resumable_checkpoint(RunPaths(tmp_path)) is None


def test_the_newest_by_step_number_not_by_name(tmp_path):
    paths = RunPaths(tmp_path)
    checkpoint(paths, 9)
    newest = checkpoint(paths, 10)  # "checkpoint-10" sorts before "checkpoint-9" as text
    (paths.checkpoints / "checkpoint-tmp").mkdir()
    assert resumable_checkpoint(paths) == newest


def test_a_save_cut_short_is_skipped_for_the_one_before(tmp_path, caplog):
    paths = RunPaths(tmp_path)
    good = checkpoint(paths, 3)
    checkpoint(paths, 6, files=CHECKPOINT_FILES[:2])  # killed or out of disk before trainer_state.json
    assert resumable_checkpoint(paths) == good
    assert "checkpoint-6 lacks trainer_state.json: resuming from checkpoint-3" in caplog.text


def test_when_every_checkpoint_lost_a_file_the_error_names_them(tmp_path):
    paths = RunPaths(tmp_path)
    checkpoint(paths, 3, files=[n for n in CHECKPOINT_FILES if n != "adapter_model.safetensors"])
    checkpoint(paths, 6, files=[n for n in CHECKPOINT_FILES if n != "trainer_state.json"])
    with pytest.raises(ConfigError) as err:
        resumable_checkpoint(paths)
    assert "checkpoint-6 lacks trainer_state.json; checkpoint-3 lacks adapter_model.safetensors" in err.value.message
    assert "Start a new run" in err.value.hint


def test_missing_files_are_listed_in_order(tmp_path):
    folder = checkpoint(RunPaths(tmp_path), 1, files=["trainer_state.json"])
    assert missing_checkpoint_files(folder) == ["adapter_config.json", "adapter_model.safetensors"]
