"""The Train tab's pure views: incremental refresh, progress, failure wording, resumed history."""

from __future__ import annotations

import time

from lora_studio.config import RunConfig
from lora_studio.metrics import MetricRow, append_row, latest_per_step
from lora_studio.runs import RunPaths, RunStatus, create_run, update_status
from lora_studio.sample_answers import SampleRow, append_sample
from lora_studio.ui.train_view import Watch, describe, log_tail, progress_html, queue_markdown, refresh


def make_run(tmp_path, run_id="r1") -> RunPaths:
    paths = RunPaths(tmp_path / run_id)
    create_run(paths, RunConfig())
    return paths


def test_refresh_reads_only_new_rows_and_reports_nothing_when_nothing_changed(tmp_path):
    paths = make_run(tmp_path)
    watch = Watch(run_id="r1")
    first = refresh(watch, tmp_path, full=True)
    assert first.rows == [] and first.status.state == "queued"
    append_row(paths.metrics, MetricRow("log", 1, 10, loss=2.0))
    append_row(paths.metrics, MetricRow("log", 2, 10, loss=1.5))
    second = refresh(watch, tmp_path)
    assert [r.step for r in second.rows] == [1, 2] and second.status is None
    idle = refresh(watch, tmp_path)
    assert idle.rows is None and idle.status is None and idle.log is None and idle.samples is None
    update_status(paths, state="running", step=2)
    assert refresh(watch, tmp_path).status.state == "running"


def test_a_half_written_line_waits_for_its_newline(tmp_path):
    paths = make_run(tmp_path)
    watch = Watch(run_id="r1")
    refresh(watch, tmp_path, full=True)
    line = MetricRow("log", 1, 10, loss=2.0).to_json()
    with paths.metrics.open("a") as fh:
        fh.write(line[:10])
    assert refresh(watch, tmp_path).rows is None
    with paths.metrics.open("a") as fh:
        fh.write(line[10:] + "\n")
    assert [r.loss for r in refresh(watch, tmp_path).rows] == [2.0]


def test_full_refresh_redraws_the_whole_history(tmp_path):
    paths = make_run(tmp_path)
    for step in range(1, 6):
        append_row(paths.metrics, MetricRow("log", step, 5, loss=1.0 / step))
    watch = Watch(run_id="r1")
    refresh(watch, tmp_path)
    again = refresh(watch, tmp_path, full=True)
    assert [r.step for r in again.rows] == [1, 2, 3, 4, 5]


def test_rows_retrained_after_a_resume_replace_the_earlier_attempt():
    first = [MetricRow("log", s, 10, loss=1.0) for s in (1, 2, 3, 4)]
    resumed = [MetricRow("log", s, 10, loss=0.5) for s in (3, 4, 5)]
    rows = latest_per_step([*first, MetricRow("eval", 4, 10, eval_loss=0.9), *resumed])
    assert [(r.event, r.step, r.loss) for r in rows if r.event == "log"] == [
        ("log", 1, 1.0),
        ("log", 2, 1.0),
        ("log", 3, 0.5),
        ("log", 4, 0.5),
        ("log", 5, 0.5),
    ]
    assert [r.step for r in rows if r.event == "eval"] == [4]


def test_samples_and_log_are_picked_up_when_they_grow(tmp_path):
    paths = make_run(tmp_path)
    watch = Watch(run_id="r1")
    refresh(watch, tmp_path, full=True)
    append_sample(paths.samples, SampleRow(0, "Hi?", "Hello.", time.time(), 0.1))
    paths.log.write_text("line one\nline two\n")
    changes = refresh(watch, tmp_path)
    assert changes.samples.to_dict("records") == [{"step": 0, "prompt": "Hi?", "answer": "Hello."}]
    assert changes.log.endswith("line two")
    assert log_tail(paths.log, 1) == "line two"


def test_progress_shows_the_phase_before_the_first_step_then_the_numbers():
    status = RunStatus(state="running", phase="loading model", started=time.time() - 12)
    early = progress_html(status, [])
    assert "loading model…" in early and "ls-busy" in early
    # The page moves the clock on from the seconds drawn (page_scripts.CLOCK_SCRIPT): no message per second.
    assert 'elapsed <span class="ls-clock" data-elapsed="12">0:12</span>' in early
    rows = [MetricRow("log", 25, 100, epoch=0.5, loss=1.0, tokens_per_sec=1234.0, eta_s=75)]
    later = progress_html(RunStatus(state="running", phase="training", step=25, max_steps=100), rows)
    assert "step 25/100" in later and "epoch 0.50" in later and "1,234 tokens/s" in later and "ETA 1:15" in later
    assert "width:25.0%" in later
    uncounted = progress_html(RunStatus(state="running", phase="training", step=0, max_steps=-1), [])
    assert "step 0/?" in uncounted and "/-1" not in uncounted  # before the trainer has counted its steps


def test_a_failure_is_described_in_words_with_the_log_never_as_completed():
    status = RunStatus(
        state="failed",
        error="Training ran out of memory (OutOfMemoryError)",
        error_kind="out_of_memory",
        hint="Lower training.batch_size",
    )
    text = describe(status, "r1", log="Traceback (most recent call last):\nOutOfMemoryError")
    assert "ran out of memory" in text and "Lower training.batch_size" in text
    assert "OutOfMemoryError" in text.split("train.log")[1] and "completed" not in text
    queued = describe(RunStatus(state="queued"), "r2", queue_position=2)
    assert "position 2" in queued


def test_queue_markdown_lists_the_line_up():
    assert "No job" in queue_markdown([], [])
    text = queue_markdown(["a"], ["b", "c"])
    assert "`a`" in text and "1. `b`" in text and "2. `c`" in text


def test_a_step_that_moved_alone_does_not_redraw_the_status_but_a_new_state_does(tmp_path):
    paths = make_run(tmp_path)
    watch = Watch(run_id="r1")
    update_status(paths, state="running", step=1)
    refresh(watch, tmp_path, full=True)
    update_status(paths, step=2)
    assert refresh(watch, tmp_path).status is None  # the metrics row of step 2 redraws chart and progress
    update_status(paths, state="completed", step=2)
    assert refresh(watch, tmp_path).status.state == "completed"


def test_sessions_at_the_same_offset_share_one_figure_and_a_new_row_builds_a_new_one():
    from lora_studio.ui.train_sessions import Shared

    shared = Shared(figures=2)
    rows = [MetricRow("log", 1, 10, loss=2.0)]
    first = shared.figure("loss", "r1", 100, rows)
    assert shared.figure("loss", "r1", 100, list(rows)) is first
    more = [*rows, MetricRow("log", 2, 10, loss=1.0)]
    second = shared.figure("loss", "r1", 200, more)
    assert second is not first
    assert list(second.data[0].y)[-1] == 1.0
    shared.figure("loss", "r2", 100, rows)
    assert shared.figure("loss", "r1", 100, rows) is not first  # the oldest was dropped beyond the size
