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
from lora_studio.errors import StudioError
from lora_studio.messages import text

PREVIEW_ROWS = 50
ISSUE_ROWS = 500
CELL_CHARS = 300
FORMAT_LABELS = {
    "messages": "chat messages",
    "prompt_completion": "prompt / completion",
    "text": "plain text",
    "preference": "pairs of answers (prompt / chosen / rejected: for DPO or ORPO)",
}


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
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def records_table(records: list[dict], limit: int = PREVIEW_ROWS) -> pd.DataFrame:
    rows = [{"row": r.get(ROW_KEY), **{k: _cell(v) for k, v in r.items() if k != ROW_KEY}} for r in records[:limit]]
    return pd.DataFrame(rows)


def issues_table(issues: list[DataIssue]) -> pd.DataFrame:
    ordered = sorted(issues, key=lambda i: (i.severity != "error", i.row or 0))[:ISSUE_ROWS]
    return pd.DataFrame(
        [{"severity": i.severity, "where": str(i).split(": ", 1)[0], "problem": i.message} for i in ordered],
        columns=["severity", "where", "problem"],
    )


def status_markdown(data: LoadedData) -> str:
    errors, warnings = data.errors, data.warnings
    head = (
        f"**{data.path.name}** · {len(data.rows):,} usable rows · format **{FORMAT_LABELS[data.format]}** "
        f"({data.reason}) · {data.kind.upper()}, {data.encoding}"
    )
    if errors:
        verdict = (
            f"⛔ **{len(errors)} problem(s) block training.** Fix the rows listed under Issues "
            "(or remove them), then load the file again."
        )
    elif warnings:
        verdict = f"✅ Ready to train, with {len(warnings)} warning(s) worth a look."
    else:
        verdict = "✅ Ready to train: no problems found."
    if data.format == "preference":
        verdict += "\n\n" + text("data.pairs_method")
    return f"{head}\n\n{verdict}"


def split_view(data: LoadedData, eval_fraction: float, seed: int) -> tuple[str, pd.DataFrame]:
    train_idx, eval_idx = split_indices(len(data.rows), eval_fraction, seed)
    if not eval_idx:
        return f"All {len(train_idx):,} rows train; none held out for evaluation.", pd.DataFrame(columns=["row"])
    rows = training_rows([data.rows[i] for i in eval_idx])
    table = pd.DataFrame(
        [
            {"row": data.rows[i][ROW_KEY], **{k: _cell(v) for k, v in r.items()}}
            for i, r in zip(eval_idx, rows, strict=True)
        ][:PREVIEW_ROWS]
    )
    md = (
        f"{len(train_idx):,} rows train, {len(eval_idx):,} held out for evaluation "
        f"(seed {seed}: the same rows every time)."
    )
    return md, table


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
        status_markdown(data),
        issues_table(data.issues),
        records_table(data.records),
        split_md,
        eval_rows,
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        cli_command(sel),
        bool(data.errors),
    )


def describe_error(exc: StudioError, previous: Selection | None) -> str:
    kept = (
        f"\n\nStill selected: **{Path(previous.path).name}** (nothing was lost)." if previous and previous.path else ""
    )
    hint = f"\n\n**What to do:** {exc.hint}" if exc.hint else ""
    return f"❌ **This file cannot be used.** {exc.message}.{hint}{kept}"
