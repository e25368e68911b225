"""The Runs tab's pure views, and runs.delete_run / runs.run_summary, on run folders made by hand."""

from __future__ import annotations

import os
import shlex

import pytest

from lora_studio.config import RunConfig, apply_overrides
from lora_studio.errors import ConfigError
from lora_studio.metrics import MetricRow, append_row
from lora_studio.runs import CHECKPOINT_FILES, RunPaths, RunStatus, delete_run, run_summary, write_status
from lora_studio.ui import runs_view


def make_run(
    root, name: str, state: str = "completed", losses=(2.0, 1.5, 1.2), evals=(), overrides=(), **status
) -> RunPaths:
    """A run folder as the worker leaves it: config.yaml, status.json, metrics.jsonl, train.log."""
    paths = RunPaths(root / name)
    paths.root.mkdir(parents=True)
    apply_overrides(RunConfig(), list(overrides)).save(paths.config)
    max_steps = 10 * len(losses) or 30
    for i, loss in enumerate(losses, start=1):
        append_row(paths.metrics, MetricRow("log", 10 * i, max_steps, loss=loss, learning_rate=1e-4))
    for step, value in evals:
        append_row(paths.metrics, MetricRow("eval", step, max_steps, eval_loss=value))
    status.setdefault("step", 10 * len(losses))
    status.setdefault("max_steps", max_steps)
    write_status(paths, RunStatus(state=state, **status))
    paths.log.write_text("".join(f"log line {i}\n" for i in range(1, 31)), encoding="utf-8")
    return paths


def row_of(table, run_id: str) -> dict:
    return table.set_index("run").loc[run_id].to_dict()


# ---- runs.run_summary ----------------------------------------------------------------------------


def test_summary_takes_final_loss_from_the_last_logged_loss_then_status(tmp_path):
    """The final loss is the chart's last raw point; status.json's copy counts only when there are no metrics."""
    logged = run_summary(make_run(tmp_path, "a", losses=(2.0, 1.5, 1.2), final_loss=0.9))
    assert logged.final_loss == 1.2
    status_only = run_summary(make_run(tmp_path, "d", losses=(), final_loss=0.9))
    assert status_only.final_loss == 0.9
    from_rows = run_summary(make_run(tmp_path, "b", losses=(2.0, None, 1.1, None)))
    assert from_rows.final_loss == 1.1  # diverged (None) rows are skipped
    assert from_rows.eval_loss is None
    with_eval = run_summary(make_run(tmp_path, "c", evals=((10, 1.9), (30, 1.4))))
    assert with_eval.eval_loss == 1.4


def test_summary_survives_torn_metrics_and_unreadable_config(tmp_path):
    paths = make_run(tmp_path, "torn", losses=(2.0, 1.0))
    with paths.metrics.open("a", encoding="utf-8") as fh:
        fh.write('{"event": "log", "step": 30, "lo')  # the worker died mid-write
    paths.config.write_text("lora: [unclosed\n", encoding="utf-8")
    summary = run_summary(paths)
    assert [r.step for r in summary.rows] == [10, 20]
    assert summary.config is None and "config.yaml is unreadable" in summary.config_error


def test_summary_steps_fall_back_to_metrics_when_status_is_corrupt(tmp_path):
    paths = make_run(tmp_path, "corrupt", losses=(2.0, 1.5))
    paths.status.write_text("{not json", encoding="utf-8")
    summary = run_summary(paths)
    assert summary.status.state == "failed"
    assert summary.steps == (20, 20)


# ---- runs.delete_run -----------------------------------------------------------------------------


def test_delete_removes_a_finished_run(tmp_path):
    paths = make_run(tmp_path, "done")
    (paths.adapter).mkdir()
    delete_run(paths, tmp_path)
    assert not paths.root.exists()


@pytest.mark.parametrize("state", ["running", "queued"])
def test_delete_refuses_an_active_run(tmp_path, state):
    paths = make_run(tmp_path, "busy", state=state)
    with pytest.raises(ConfigError, match=f"is {state}") as info:
        delete_run(paths, tmp_path)
    assert "stop or cancel it first" in info.value.hint.lower()
    assert paths.root.is_dir()


def test_delete_refuses_folders_outside_the_runs_root(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    outside = make_run(tmp_path, "elsewhere")
    with pytest.raises(ConfigError, match="not a run folder inside"):
        delete_run(outside, runs)
    with pytest.raises(ConfigError, match="not a run folder inside"):
        delete_run(RunPaths(runs / ".." / "elsewhere"), runs)
    (runs / "link").symlink_to(outside.root)
    with pytest.raises(ConfigError, match="not a run folder inside"):
        delete_run(RunPaths(runs / "link"), runs)
    assert outside.root.is_dir()
    plain = runs / "not-a-run"
    plain.mkdir()
    with pytest.raises(ConfigError, match=r"no config\.yaml"):
        delete_run(RunPaths(plain), runs)
    assert plain.is_dir()


def test_delete_uses_the_studio_runs_folder_by_default(studio_home):
    paths = make_run(studio_home / "runs", "default-root")
    delete_run(paths)
    assert not paths.root.exists()


# ---- runs table ----------------------------------------------------------------------------------


def test_table_lists_every_run_even_damaged_ones(tmp_path):
    make_run(
        tmp_path,
        "20240101-000001-good",
        overrides=["lora.r=16", "training.max_steps=30", "training.gradient_accumulation=2"],
        final_loss=1.2,
        evals=((30, 1.3),),
    )
    make_run(
        tmp_path,
        "20240101-000002-oom",
        state="failed",
        error="CUDA out of memory",
        error_kind="out_of_memory",
        hint="Lower the batch size",
    )
    corrupt = make_run(tmp_path, "20240101-000003-corrupt")
    corrupt.status.write_text("\x00garbage", encoding="utf-8")
    badcfg = make_run(tmp_path, "20240101-000004-badcfg")
    badcfg.config.write_text("model: [", encoding="utf-8")
    table = runs_view.runs_table(runs_view.load_summaries(tmp_path))

    assert list(table.columns) == list(runs_view.TABLE_COLUMNS())
    assert list(table["run"]) == [
        "20240101-000004-badcfg",
        "20240101-000003-corrupt",
        "20240101-000002-oom",
        "20240101-000001-good",
    ]
    good = row_of(table, "20240101-000001-good")
    assert good["status"].endswith("completed")
    assert (good["r"], good["alpha"], good["lr"], good["length"], good["batch"], good["max len"]) == (
        "16",
        "16",
        "2.0e-04",
        "30 steps",
        "4×2",
        "512",
    )
    assert good["steps"] == "30/30" and good["final loss"] == "1.2000" and good["eval loss"] == "1.3000"
    assert good["model"] == "SmolLM2-135M-Instruct (embedded)"
    assert "failed (out_of_memory)" in row_of(table, "20240101-000002-oom")["status"]
    broken = row_of(table, "20240101-000003-corrupt")
    assert "failed" in broken["status"] and "status.json is unreadable" in broken["note"]
    unreadable = row_of(table, "20240101-000004-badcfg")
    assert unreadable["r"] == "?" and "config.yaml is unreadable" in unreadable["note"]
    assert unreadable["final loss"] == "1.2000"  # metrics still read


def test_created_time_survives_a_corrupt_status(tmp_path):
    paths = make_run(tmp_path, "old", created=1_000_000_000.0)
    os.utime(paths.config, (1_000_000_000, 1_000_000_000))
    assert runs_view.created_at(run_summary(paths)) == 1_000_000_000.0
    paths.status.write_text("[", encoding="utf-8")
    assert runs_view.created_at(run_summary(paths)) == 1_000_000_000.0  # not "now"


def test_epochs_and_empty_runs_display(tmp_path):
    make_run(tmp_path, "fresh", state="queued", losses=(), step=0, max_steps=0)
    table = runs_view.runs_table(runs_view.load_summaries(tmp_path))
    fresh = row_of(table, "fresh")
    assert fresh["length"] == "1 ep" and fresh["steps"] == runs_view.DASH and fresh["final loss"] == runs_view.DASH
    assert runs_view.runs_table([]).empty


def test_overview_counts_states(tmp_path):
    assert "No runs yet" in runs_view.overview_md([], tmp_path)
    make_run(tmp_path, "a")
    make_run(tmp_path, "b")
    make_run(tmp_path, "c", state="failed")
    text = runs_view.overview_md(runs_view.load_summaries(tmp_path), tmp_path)
    assert "3 run(s)" in text and "2 completed" in text and "1 failed" in text


# ---- compare and diff ----------------------------------------------------------------------------


def test_config_diff_lists_only_differing_settings(tmp_path):
    a = run_summary(make_run(tmp_path, "a", overrides=["lora.r=8", "training.learning_rate=0.0002"]))
    b = run_summary(
        make_run(
            tmp_path,
            "b",
            overrides=["lora.r=32", "training.learning_rate=0.0002", "lora.target_modules=[q_proj, v_proj]"],
        )
    )
    diff = runs_view.config_diff([a, b])
    assert list(diff.columns) == ["setting", "a", "b"]
    by_name = diff.set_index("setting")
    assert set(by_name.index) == {"lora.r", "lora.target_modules"}
    assert by_name.loc["lora.r"].to_dict() == {"a": "8", "b": "32"}
    assert by_name.loc["lora.target_modules", "b"] == "q_proj, v_proj"
    assert "2 setting(s) differ" in runs_view.diff_note([a, b], diff)


def test_config_diff_same_settings_and_unreadable_configs(tmp_path):
    a = run_summary(make_run(tmp_path, "a"))
    b = run_summary(make_run(tmp_path, "b"))
    same = runs_view.config_diff([a, b])
    assert same.empty and "same settings" in runs_view.diff_note([a, b], same)
    bad_paths = make_run(tmp_path, "bad", overrides=["lora.r=4"])
    bad_paths.config.write_text("{{{", encoding="utf-8")
    c = run_summary(make_run(tmp_path, "c", overrides=["lora.r=4"]))
    bad = run_summary(bad_paths)
    diff = runs_view.config_diff([a, bad, c])
    assert diff.set_index("setting").loc["lora.r"].to_dict() == {"a": "8", "bad": "?", "c": "4"}
    assert "Not compared (config.yaml unreadable): bad" in runs_view.diff_note([a, bad, c], diff)
    assert "two or more" in runs_view.diff_note([a], runs_view.config_diff([a]))


def test_compare_series_keys_by_run(tmp_path):
    a = run_summary(make_run(tmp_path, "a", losses=(1.0, 0.5)))
    series = runs_view.compare_series([a])
    assert list(series) == ["a"] and [r.loss for r in series["a"]] == [1.0, 0.5]


@pytest.mark.parametrize(
    "value,text",
    [
        (2e-4, "0.0002"),
        (True, "True"),
        (["q", "v"], "q, v"),
        ({"prompt": "question"}, "{prompt: question}"),
        (8, "8"),
        (None, "None"),
    ],
)
def test_format_value(value, text):
    assert runs_view.format_value(value) == text


# ---- details, log tail, CLI ----------------------------------------------------------------------


def test_details_of_a_failed_run_show_error_and_hint(tmp_path):
    paths = make_run(
        tmp_path,
        "oom",
        state="failed",
        error="CUDA out of memory",
        error_kind="out_of_memory",
        hint="Lower the batch size",
        trainable_params=1000,
        total_params=100000,
    )
    text = runs_view.details_md(run_summary(paths))
    assert "### oom" in text and "out_of_memory" in text and "CUDA out of memory" in text
    assert "Lower the batch size" in text and "1.00%" in text


def test_log_tail_is_the_last_twenty_lines(tmp_path):
    paths = make_run(tmp_path, "a")
    tail = runs_view.log_tail(paths).splitlines()
    assert tail == [f"log line {i}" for i in range(11, 31)]
    paths.log.write_bytes(b"x" * (256 * 1024) + b"\nlast \xff line\n")  # longer than the tail it reads
    assert runs_view.log_tail(paths, 1) == "last \ufffd line"
    paths.log.unlink()
    assert "no train.log" in runs_view.log_tail(paths)


def test_cli_commands_use_the_real_cli_flags(tmp_path):
    from lora_studio.__main__ import build_parser

    done = run_summary(make_run(tmp_path, "done dir"))  # a space: the path must be quoted
    text = runs_view.cli_commands(done)
    train_line = next(line for line in text.splitlines() if line.startswith("python"))
    argv = shlex.split(train_line)[3:]
    args = build_parser().parse_args(argv)
    assert args.command == "train" and args.config == str(done.paths.config) and not args.resume
    assert "--resume" not in text  # a completed run is not resumed


def test_resume_command_only_when_resumable_with_a_checkpoint(tmp_path):
    from lora_studio.__main__ import build_parser

    stopped = make_run(tmp_path, "stopped", state="stopped")
    assert "cannot be resumed" in runs_view.cli_commands(run_summary(stopped))
    save_checkpoint(stopped, 20)
    text = runs_view.cli_commands(run_summary(stopped))
    resume_line = [line for line in text.splitlines() if "--resume" in line]
    assert len(resume_line) == 1
    args = build_parser().parse_args(shlex.split(resume_line[0])[3:])
    assert args.resume and args.run_dir == str(stopped.root)
    running = make_run(tmp_path, "running", state="running")
    save_checkpoint(running, 20)
    assert "--resume" not in runs_view.cli_commands(run_summary(running))


def test_cli_for_unreadable_config_is_commented_out(tmp_path):
    paths = make_run(tmp_path, "bad")
    paths.config.write_text("[", encoding="utf-8")
    lines = runs_view.cli_commands(run_summary(paths)).splitlines()
    assert all(line.startswith("#") for line in lines if line)


@pytest.mark.parametrize("state", ["failed", "interrupted", "cancelled"])
def test_every_resumable_state_offers_resume_once_checkpointed(tmp_path, state):
    paths = make_run(tmp_path, state, state=state)
    save_checkpoint(paths, 10)
    assert f"--run-dir {paths.root} --resume" in runs_view.cli_commands(run_summary(paths))
    assert "Cannot resume" not in runs_view.details_md(run_summary(paths))


def test_a_run_whose_every_checkpoint_lost_files_says_it_cannot_resume_and_what_each_lacks(tmp_path):
    paths = make_run(tmp_path, "lost", state="stopped")
    save_checkpoint(paths, 10)
    (paths.checkpoints / "checkpoint-10" / "adapter_model.safetensors").unlink()
    summary = run_summary(paths)
    assert "--resume" not in runs_view.cli_commands(summary) and "incomplete" in runs_view.cli_commands(summary)
    details = runs_view.details_md(summary)
    assert "Cannot resume" in details and "checkpoint-10 lacks adapter_model.safetensors" in details
    save_checkpoint(paths, 5)  # an older complete one: resume goes back to it
    assert "Cannot resume" not in runs_view.details_md(run_summary(paths))


def save_checkpoint(paths, step: int) -> None:
    """The files a Trainer save leaves (lora_studio.runs.CHECKPOINT_FILES)."""
    folder = paths.checkpoints / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    for name in CHECKPOINT_FILES:
        (folder / name).write_text("{}")
