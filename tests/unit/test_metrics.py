from __future__ import annotations

import json

from lora_studio.metrics import MetricRow, MetricsReader, append_row, format_progress, read_all


def row(step: int, loss: float = 1.0) -> MetricRow:
    return MetricRow(
        "log",
        step,
        10,
        epoch=step / 10,
        loss=loss,
        learning_rate=1e-4,
        tokens_seen=step * 100,
        tokens_per_sec=250.0,
        elapsed_s=step * 2.0,
        eta_s=(10 - step) * 2.0,
        time=1.0,
    )


def test_reader_returns_only_new_rows(tmp_path):
    path = tmp_path / "metrics.jsonl"
    reader = MetricsReader(path)
    assert reader.read_new() == []  # no file yet
    append_row(path, row(1))
    append_row(path, row(2))
    assert [r.step for r in reader.read_new()] == [1, 2]
    assert reader.read_new() == []
    append_row(path, row(3))
    assert [r.step for r in reader.read_new()] == [3]


def test_half_written_last_line_waits_for_its_newline(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append_row(path, row(1))
    full = row(2).to_json()
    with path.open("a", encoding="utf-8") as fh:
        fh.write(full[:15])
    reader = MetricsReader(path)
    assert [r.step for r in reader.read_new()] == [1]
    with path.open("a", encoding="utf-8") as fh:
        fh.write(full[15:] + "\n")
    assert [r.step for r in reader.read_new()] == [2]


def test_torn_line_in_the_middle_is_skipped_and_counted(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(row(1).to_json() + "\n" + '{"event": "log", "st\n' + row(3).to_json() + "\n")
    reader = MetricsReader(path)
    assert [r.step for r in reader.read_new()] == [1, 3]
    assert reader.bad_lines == 1


def test_nan_loss_is_written_as_null(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append_row(path, row(1, loss=float("nan")))
    assert json.loads(path.read_text())["loss"] is None
    assert read_all(path)[0].loss is None


def test_progress_line_has_step_loss_lr_speed_and_eta():
    line = format_progress(row(4, loss=0.5))
    assert "step  4/10" in line and "loss 0.5000" in line and "lr 1.00e-04" in line
    assert "250 tok/s" in line and "ETA 0:12" in line
    eval_line = format_progress(MetricRow("eval", 4, 10, eval_loss=0.25, eta_s=3725))
    assert "eval_loss 0.2500" in eval_line and "ETA 1:02:05" in eval_line
