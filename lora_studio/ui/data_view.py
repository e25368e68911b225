"""What the Data tab shows for a dataset selection: plain values, no gradio, testable directly.

A `Selection` is the user's current choice (file, format, column mapping, split, max length,
model for the token preview). `analyse()` turns it into everything the tab displays; it raises
StudioError when the file cannot be used, so the caller can keep the previous selection.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from lora_studio import settings
from lora_studio.config import DataSettings, RunConfig, merge_dict
from lora_studio.dataset_files import ROW_KEY, DataIssue
from lora_studio.dataset_rows import LoadedData, load_dataset_file, split_indices, training_rows
from lora_studio.declarations import ConfigIssue
from lora_studio.errors import StudioError
from lora_studio.messages import text
from lora_studio.ui.config_view import label_of, set_on_data_tab

PREVIEW_ROWS = 50
ISSUE_ROWS = 500
CELL_CHARS = 300


def FORMAT_LABELS() -> dict[str, str]:
    """Each row format's name in words, in the current language."""
    return {
        "messages": text("data.format_name.messages"),
        "prompt_completion": text("data.format_name.prompt_completion"),
        "text": text("data.format_name.text"),
        "preference": text("data.format_name.preference"),
    }


def _severity(severity: str) -> str:
    """An issue's severity as the table shows it (the value itself stays "error" or "warning")."""
    words = {"error": text("data.severity.error"), "warning": text("data.severity.warning")}
    return words.get(severity, severity)


def _where(issue: DataIssue) -> str:
    """Where an issue is (DataIssue's own wording, in the current language): "line 3, column 'text'"."""
    if issue.row is None:
        where = text("data.where.file")
    else:
        unit = text("data.unit.line") if issue.unit == "line" else text("data.unit.row")
        where = text("data.where.row", unit=unit, row=issue.row)
    return text("data.where.column", where=where, column=issue.column) if issue.column else where


@dataclass
class Selection:
    path: str = ""
    format: str = "auto"
    columns: dict = field(default_factory=dict)
    eval_fraction: float = 0.0
    seed: int = 42
    max_length: int = 512
    assistant_only_loss: bool = True
    model: str = settings.EMBEDDED_MODEL_NAME

    @classmethod
    def from_config(cls, cfg: RunConfig) -> Selection:
        """The Data tab's view of a run config (the dataset and the settings drawn beside it)."""
        d = cfg.data
        return cls(
            path=d.path,
            format=d.format,
            columns=dict(d.columns) if isinstance(d.columns, dict) else {},
            eval_fraction=d.eval_fraction,
            seed=cfg.training.seed,
            max_length=d.max_length,
            assistant_only_loss=d.assistant_only_loss,
            model=cfg.model.name_or_path,
        )

    def data_settings(self) -> DataSettings:
        return DataSettings(
            path=self.path,
            format=self.format,
            columns=dict(self.columns),
            eval_fraction=self.eval_fraction,
            max_length=int(self.max_length),
            assistant_only_loss=self.assistant_only_loss,
        )

    def run_config(self, base: RunConfig | None = None) -> RunConfig:
        """The run config this selection leads to (the base's other sections kept)."""
        cfg = merge_dict(
            base or RunConfig(),
            {"data": dataclasses.asdict(self.data_settings()), "model": {"name_or_path": self.model}},
        )
        cfg.training.seed = int(self.seed)
        return cfg


@dataclass
class Analysis:
    data: LoadedData
    status_md: str
    issues: pd.DataFrame
    preview: pd.DataFrame
    split_md: str
    eval_rows: pd.DataFrame
    config_yaml: str
    cli_command: str
    blocking: bool


def _cell(value: object) -> str:
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= CELL_CHARS else shown[: CELL_CHARS - 1] + "…"


def records_table(records: list[dict], limit: int = PREVIEW_ROWS) -> pd.DataFrame:
    row = text("data.col.row")
    rows = [{row: r.get(ROW_KEY), **{k: _cell(v) for k, v in r.items() if k != ROW_KEY}} for r in records[:limit]]
    return pd.DataFrame(rows)


def issues_table(issues: list[DataIssue]) -> pd.DataFrame:
    ordered = sorted(issues, key=lambda i: (i.severity != "error", i.row or 0))[:ISSUE_ROWS]
    columns = [text("data.col.severity"), text("data.col.where"), text("data.col.problem")]
    return pd.DataFrame([(_severity(i.severity), _where(i), i.message) for i in ordered], columns=columns)


def status_markdown(data: LoadedData, setting_issues: list[ConfigIssue] | None = None) -> str:
    """The file's line and the verdict: blocked by rows, blocked by this tab's own settings (a max length below its
    bound, say), or ready."""
    errors, warnings = data.errors, data.warnings
    head = text(
        "data.status",
        name=data.path.name,
        rows=len(data.rows),
        format=FORMAT_LABELS()[data.format],
        reason=data.reason,
        kind=data.kind.upper(),
        encoding=data.encoding,
    )
    if errors:
        verdict = text("data.blocked", count=len(errors))
    elif setting_issues:
        problems = [text("data.setting_issue", label=label_of(i.field), problem=i.message) for i in setting_issues]
        verdict = "\n".join([text("data.settings_block", count=len(setting_issues)), *problems])
    elif warnings:
        verdict = text("data.ready_with_warnings", count=len(warnings))
    else:
        verdict = text("data.ready")
    if data.format == "preference":
        verdict += "\n\n" + text("data.pairs_method")
    return f"{head}\n\n{verdict}"


def split_view(data: LoadedData, eval_fraction: float, seed: int) -> tuple[str, pd.DataFrame]:
    train_idx, eval_idx = split_indices(len(data.rows), eval_fraction, seed)
    if not eval_idx:
        return text("data.split.none", rows=len(train_idx)), pd.DataFrame(columns=[text("data.col.row")])
    rows = training_rows([data.rows[i] for i in eval_idx])
    row = text("data.col.row")
    table = pd.DataFrame(
        [
            {row: data.rows[i][ROW_KEY], **{k: _cell(v) for k, v in r.items()}}
            for i, r in zip(eval_idx, rows, strict=True)
        ][:PREVIEW_ROWS]
    )
    return text("data.split.some", train=len(train_idx), held_out=len(eval_idx), seed=seed), table


def cli_command(sel: Selection, preset: str = "quick-start") -> str:
    parts = ["python", "-m", "lora_studio", "train", "--preset", preset, "--data", sel.path]
    if sel.model != settings.EMBEDDED_MODEL_NAME:
        parts += ["--model", sel.model]
    sets = {
        "data.format": sel.format if sel.format != "auto" else None,
        "data.columns": "{" + ", ".join(f"{k}: {v}" for k, v in sel.columns.items()) + "}" if sel.columns else None,
        "data.eval_fraction": sel.eval_fraction or None,
        "data.max_length": sel.max_length,
        "data.assistant_only_loss": None if sel.assistant_only_loss else "false",
        "training.seed": sel.seed,
    }
    for key, value in sets.items():
        if value is not None:
            parts += ["--set", f"{key}={value}"]
    return " ".join(shlex.quote(str(p)) for p in parts)


def analyse(sel: Selection) -> Analysis:
    """Everything the tab shows for `sel`; StudioError when the file itself cannot be used."""
    data = load_dataset_file(sel.path, sel.format, sel.columns, max_bytes=settings.max_upload_bytes())
    split_md, eval_rows = split_view(data, sel.eval_fraction, int(sel.seed))
    run_cfg = sel.run_config()
    config = {"model": dataclasses.asdict(run_cfg.model), "data": dataclasses.asdict(run_cfg.data)}
    return Analysis(
        data,
        status_markdown(data, [i for i in run_cfg.validate() if set_on_data_tab(i.field)]),
        issues_table(data.issues),
        records_table(data.records),
        split_md,
        eval_rows,
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        cli_command(sel),
        bool(data.errors),
    )


def describe_error(exc: StudioError, previous: Selection | None) -> str:
    said = text("data.unusable", problem=exc.message)
    if exc.hint:
        said += "\n\n" + text("data.what_to_do", hint=exc.hint)
    if previous and previous.path:
        said += "\n\n" + text("data.still_selected", name=Path(previous.path).name)
    return said
