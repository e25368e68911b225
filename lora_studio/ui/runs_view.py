"""What the Runs tab shows, as plain values: tables, markdown and commands (no gradio, no torch).

Every function reads the run directories only through `runs.run_summary`, which never raises for a
damaged run folder, so one broken run cannot hide the others.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

import pandas as pd

from lora_studio.config import SECTIONS, RunConfig
from lora_studio.errors import ConfigError
from lora_studio.eval_report import format_value as format_score
from lora_studio.messages import status_words, text
from lora_studio.metrics import MetricRow
from lora_studio.runs import (
    ACTIVE_STATES,
    RESUMABLE_STATES,
    RunPaths,
    RunSummary,
    has_checkpoint,
    list_runs,
    resumable_checkpoint,
    run_summary,
    tail_lines,
)

COLUMN_KEYS = (  # what a run reached first (state, losses, latest scores), then the settings that got it there
    "run",
    "status",
    "final_loss",
    "eval_loss",
    "exact_match",
    "rouge_l",
    "chrf",
    "created",
    "model",
    "r",
    "alpha",
    "lr",
    "length",
    "batch",
    "max_len",
    "steps",
    "note",
)
# The metrics' own short names where the Evaluate tab already has them; the rest are runs.col.<key>.
_HEADER_IDS = {"rouge_l": "evaluate.short.rougeL", "chrf": "evaluate.short.chrf"}
# The latest evaluation's scores shown per run (eval_report.latest_scores): quality, not only loss.
SCORE_COLUMNS = {"exact_match": "exact_match_loose", "rouge_l": "rougeL", "chrf": "chrf"}  # column key → metric
STATE_ICONS = {
    "queued": "⏳",
    "running": "▶️",
    "completed": "✅",
    "failed": "❌",
    "stopped": "⏹️",
    "interrupted": "⚠️",
    "cancelled": "🚫",
}
DASH = "—"


def TABLE_COLUMNS() -> tuple[str, ...]:  # a function, not a constant: the headers follow the page's language
    """The run table's column headers in the current language, in COLUMN_KEYS order."""
    return tuple(text(_HEADER_IDS.get(key, f"runs.col.{key}")) for key in COLUMN_KEYS)


def load_summaries(root: str | Path) -> list[RunSummary]:
    """Every run under `root`, newest first."""
    return [run_summary(paths) for paths in list_runs(root)]


def status_label(summary: RunSummary) -> str:
    """The state with its icon; a failed run also says which kind of failure."""
    state = summary.status.state
    label = f"{STATE_ICONS.get(state, '?')} {status_words(state)}"
    if state == "failed" and summary.status.error_kind:
        label += f" ({summary.status.error_kind})"
    return label


def created_at(summary: RunSummary) -> float:
    """Creation time; config.yaml is written once when the run is made, so its mtime survives a corrupt
    status.json (whose fallback status would otherwise claim the run was created just now)."""
    try:
        return min(summary.status.created, summary.paths.config.stat().st_mtime)
    except OSError:
        return summary.status.created


def _loss(value: float | None) -> str:
    return DASH if value is None else f"{value:.4f}"


def _short_model(name: str) -> str:
    # A local folder is long and its last part says enough; hub ids and names are kept whole.
    return Path(name).name if name.startswith(("/", "~", ".")) else name


def _note(summary: RunSummary) -> str:
    note = summary.config_error or summary.status.error_words()
    return note if len(note) <= 90 else note[:89] + "…"


def _settings_cells(cfg: RunConfig | None) -> dict[str, Any]:
    if cfg is None:
        return dict.fromkeys(("model", "r", "alpha", "lr", "length", "batch", "max_len"), "?")
    train = cfg.training
    length = (
        text("runs.length.steps", steps=train.max_steps)
        if train.max_steps > 0
        else text("runs.length.epochs", epochs=train.num_epochs)
    )
    batch = (
        f"{train.batch_size}×{train.gradient_accumulation}"
        if train.gradient_accumulation > 1
        else str(train.batch_size)
    )
    return {
        "model": _short_model(str(cfg.model.name_or_path)),
        "r": str(cfg.lora.r),
        "alpha": f"{cfg.lora.alpha:g}",
        "lr": f"{train.learning_rate:.1e}",
        "length": length,
        "batch": batch,
        "max_len": str(cfg.data.max_length),
    }


def _steps(summary: RunSummary) -> str:
    done, total = summary.steps
    if not done and not total:
        return DASH
    return f"{done}/{total or '?'}"


def _score(scores: dict | None, metric: str) -> str:
    value = (scores or {}).get(metric)
    return DASH if not isinstance(value, (int, float)) else format_score(metric, value)


def runs_table(summaries: list[RunSummary], scores: dict[str, dict] | None = None) -> pd.DataFrame:
    """One row per run with its state, key settings, progress, losses and its latest evaluation's scores;
    the headers are TABLE_COLUMNS() (the page's language), the cells are filled by COLUMN_KEYS."""
    scores = scores or {}
    records = []
    for summary in summaries:
        record = {
            "run": summary.paths.run_id,
            "status": status_label(summary),
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(created_at(summary))),
        }
        record.update(_settings_cells(summary.config))
        record.update(
            {
                "steps": _steps(summary),
                "final_loss": _loss(summary.final_loss),
                "eval_loss": _loss(summary.eval_loss),
                **{column: _score(scores.get(summary.paths.run_id), key) for column, key in SCORE_COLUMNS.items()},
                "note": _note(summary),
            }
        )
        records.append(record)
    return pd.DataFrame(records, columns=list(COLUMN_KEYS)).set_axis(list(TABLE_COLUMNS()), axis=1)


def overview_md(summaries: list[RunSummary], root: str | Path) -> str:
    if not summaries:
        return text("runs.overview_empty", root=root)
    counts: dict[str, int] = {}
    for summary in summaries:
        counts[summary.status.state] = counts.get(summary.status.state, 0) + 1
    parts = text("runs.overview_sep").join(
        text("runs.overview_state", count=n, state=status_words(state)) for state, n in counts.items()
    )
    return text("runs.overview", count=len(summaries), root=root, parts=parts)


def _flatten(cfg: RunConfig) -> dict[str, Any]:
    data = cfg.to_dict()
    return {f"{section}.{key}": value for section in SECTIONS for key, value in data[section].items()}


def format_value(value: Any) -> str:
    """A setting as people write it: lists comma-separated, numbers without trailing zeros."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def config_diff(summaries: list[RunSummary]) -> pd.DataFrame:
    """Only the settings that differ between the runs: one row per dotted name, one column per run.

    A run whose config.yaml cannot be read shows "?" and is left out when deciding what differs.
    """
    setting = text("runs.col.setting")
    columns = [setting, *(s.paths.run_id for s in summaries)]
    flat = {s.paths.run_id: _flatten(s.config) for s in summaries if s.config is not None}
    if len(flat) < 2:
        return pd.DataFrame([], columns=columns)
    names = list(next(iter(flat.values())))
    records = []
    for name in names:
        values = {run_id: format_value(cfg[name]) for run_id, cfg in flat.items()}
        if len(set(values.values())) > 1:
            records.append({setting: name, **{s.paths.run_id: values.get(s.paths.run_id, "?") for s in summaries}})
    return pd.DataFrame(records, columns=columns)


def diff_note(summaries: list[RunSummary], diff: pd.DataFrame) -> str:
    if len(summaries) < 2:
        return text("runs.diff_pick_two")
    unreadable = [s.paths.run_id for s in summaries if s.config is None]
    note = text("runs.diff_count", count=len(diff)) if len(diff) else text("runs.diff_same")
    if unreadable:
        note += text("runs.diff_unreadable", runs=", ".join(unreadable))
    return note


def compare_series(summaries: list[RunSummary]) -> dict[str, list[MetricRow]]:
    return {s.paths.run_id: s.rows for s in summaries}


def _when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp else DASH


def details_md(summary: RunSummary) -> str:
    """Status, timing, progress, losses and, for a failed run, the error and what to do."""
    status = summary.status
    lines = [
        f"### {summary.paths.run_id}",
        text("runs.details.status", status=status_label(summary))
        + (f" — {status_words(status.phase)}" if status.phase and status.phase != status.state else ""),
    ]
    lines.append(
        text(
            "runs.details.times",
            created=_when(created_at(summary)),
            started=_when(status.started),
            finished=_when(status.finished),
        )
    )
    lines.append(
        text(
            "runs.details.progress",
            steps=_steps(summary),
            final_loss=_loss(summary.final_loss),
            eval_loss=_loss(summary.eval_loss),
        )
    )
    if status.trainable_params and status.total_params:
        share = 100 * status.trainable_params / status.total_params
        lines.append(
            text(
                "runs.details.trainable",
                trainable=status.trainable_params,
                total=status.total_params,
                share=share,
            )
        )
    if summary.paths.adapter.is_dir():
        lines.append(text("runs.details.adapter", path=summary.paths.adapter))
    if status.error:
        lines.append(f"> ❌ **{status.error_kind or text('runs.details.error')}:** {status.error_words()}")
        if status.hint:
            lines.append(f"> 💡 {status.hint_words()}")
    if summary.config_error:
        lines.append(text("runs.details.config_error", problem=summary.config_error))
    problem = resume_problem(summary)
    if problem:
        lines.append(text("runs.details.cannot_resume", problem=problem))
    return "\n\n".join(lines)


def resume_problem(summary: RunSummary) -> str | None:
    """Why a stopped, failed, interrupted or cancelled run that saved checkpoints cannot resume (every one of
    them lost files), with what to do; None when it can, or when it never saved one (nothing broke)."""
    if summary.status.state not in RESUMABLE_STATES or not has_checkpoint(summary.paths):
        return None
    try:
        resumable_checkpoint(summary.paths, log_skipped=False)  # only asking: nothing resumes here
    except ConfigError as exc:
        return exc.one_line()
    except OSError as exc:
        return text("runs.checkpoints_unreadable", error=exc)
    return None


def log_tail(paths: RunPaths, lines: int = 20) -> str:
    """The last `lines` lines of train.log, reading only its end."""
    if not paths.log.exists():
        return text("runs.log_missing")
    tail = tail_lines(paths.log, lines)
    return text("runs.log_unreadable") if tail is None else tail


def cli_commands(summary: RunSummary) -> str:
    """Shell commands to train the same config again headless and, where it makes sense, to resume."""
    paths = summary.paths
    lines = [
        f"# {text('runs.cli.again')}",
        f"python -m lora_studio train --config {shlex.quote(str(paths.config))}",
    ]
    if summary.config is None:
        lines = [
            f"# {text('runs.cli.config_unreadable')}",
            f"# python -m lora_studio train --config {shlex.quote(str(paths.config))}",
        ]
    else:
        lines += ["", *_elsewhere_command(summary.config)]
    if summary.status.state in RESUMABLE_STATES:
        if has_checkpoint(paths) and resume_problem(summary):
            lines += ["", f"# {text('runs.cli.checkpoints_incomplete')}"]
        elif has_checkpoint(paths):
            lines += [
                "",
                f"# {text('runs.cli.resume')}",
                f"python -m lora_studio train --run-dir {shlex.quote(str(paths.root))} --resume",
            ]
        else:
            lines += ["", f"# {text('runs.cli.no_checkpoint')}"]
    return "\n".join(lines)


def _elsewhere_command(cfg: RunConfig) -> list[str]:
    """The same settings headless on another machine, one process per GPU through accelerate launch."""
    count = cfg.training.num_processes
    processes = max(int(count), 2) if isinstance(count, int) else 2
    data = shlex.quote(Path(str(cfg.data.path)).name or "DATA.jsonl")
    return [
        f"# {text('runs.cli.elsewhere')}",
        f"# {text('runs.cli.elsewhere_processes')}",
        f"python -m lora_studio train --config config.yaml --data {data} --num-processes {processes}",
    ]


def is_active(summary: RunSummary) -> bool:
    return summary.status.state in ACTIVE_STATES
