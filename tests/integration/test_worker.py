"""The worker's status transitions and failure classes, as the UI will read them."""

from __future__ import annotations

import errno

import pytest

from lora_studio.engine import worker
from lora_studio.errors import DataError
from lora_studio.runs import read_status
from tests.conftest import write_jsonl
from tests.integration.helpers import new_run, tiny_config


@pytest.mark.parametrize(
    "exc,kind,hint_word",
    [
        (MemoryError(), "out_of_memory", "batch_size"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "out_of_memory", "gradient_checkpointing"),
        (OSError(errno.ENOSPC, "No space left on device"), "disk", "Free some space"),
        (DataError("row 3: bad", "Fix row 3"), "data", "Fix row 3"),
        (ValueError("something odd"), "internal", "train.log"),
    ],
)
def test_failures_are_classified_with_a_hint(exc, kind, hint_word):
    got_kind, message, hint = worker.classify(exc)
    assert got_kind == kind and message and hint_word in hint


def test_bad_data_ends_failed_with_the_row_named(tmp_path, tiny_model_dir):
    data = write_jsonl(tmp_path / "d.jsonl", [{"messages": [{"role": "user", "content": "only a question"}]}])
    paths = new_run(tmp_path, tiny_config(tiny_model_dir, data))
    assert worker.run(paths.root) == 1
    status = read_status(paths)
    assert status.state == "failed" and status.error_kind == "data"
    assert "line 1" in status.error and "no assistant turn" in status.error and status.hint


def test_interrupt_marks_the_run_interrupted(tmp_path, tiny_model_dir, chat_file, monkeypatch):
    import lora_studio.engine.train as train_mod

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "train", interrupted)
    paths = new_run(tmp_path, tiny_config(tiny_model_dir, chat_file))
    with pytest.raises(KeyboardInterrupt):
        worker.run(paths.root)
    status = read_status(paths)
    assert status.state == "interrupted" and "--resume" in status.hint


def test_worker_module_entry_point(tmp_path, tiny_model_dir, chat_file):
    """`python -m lora_studio.engine.worker --run-dir DIR` is how jobs will start it."""
    import subprocess
    import sys

    paths = new_run(tmp_path, tiny_config(tiny_model_dir, chat_file, "training.max_steps=2"))
    proc = subprocess.run(
        [sys.executable, "-m", "lora_studio.engine.worker", "--run-dir", str(paths.root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "final status: completed" in proc.stdout
    status = read_status(paths)
    assert status.state == "completed" and status.pid and status.finished >= status.started


def test_a_finished_run_stores_its_real_speed_for_the_next_eta(tmp_path, tiny_model_dir, chat_file):
    from lora_studio import calibration
    from lora_studio.engine.preflight import device_label
    from lora_studio.engine.worker import run

    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=4", "training.sample_every_save=false")
    key = calibration.key_for(cfg, device_label())
    assert calibration.lookup(key) is None
    run(new_run(tmp_path, cfg).root)
    stored = calibration.lookup(key)
    assert stored is not None and stored.source == "training"
    assert 0 < stored.sec_per_step < 60 and stored.tokens_per_sec > 0
    assert stored.flops > 0  # what it teaches the rough estimate of other settings
    assert calibration.machine_flops(device_label(), "") == (stored.flops, 1)


def test_a_config_that_cannot_be_read_fails_the_run_in_words(tmp_path, tiny_model_dir, chat_file):
    from lora_studio.engine.worker import run

    paths = new_run(tmp_path, tiny_config(tiny_model_dir, chat_file))
    paths.config.write_text("lora: [unclosed\n")
    assert run(paths.root) == 1
    status = read_status(paths)
    assert status.state == "failed" and status.error_kind == "config" and "YAML" in status.error
