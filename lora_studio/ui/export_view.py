"""What the Merge & Export tab shows, as plain values from the run folder (no gradio, no torch)."""

from __future__ import annotations

import html
import time
from pathlib import Path

from lora_studio.exports import (
    EXPORT_DTYPES,
    ExportStatus,
    list_merged,
    merged_dir,
    read_verification,
)
from lora_studio.gguf_files import gguf_dir
from lora_studio.modelcard import verification_summary
from lora_studio.runs import RunPaths, run_summary
from lora_studio.ui.formatting import progress_bar_html
from lora_studio.ui.runs_view import DASH, STATE_ICONS

NO_RUN = (
    "No finished run to export yet. Train one on the **Train** tab; a run that completed or was "
    "stopped with *Stop and save* shows up here."
)
EXPORT_ICONS = {"running": "⏳", "completed": "✅", "failed": "❌", "cancelled": "🚫"}


def size_text(path: Path) -> str:
    """Bytes in a file or a folder, in words."""
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    total = float(sum(p.stat().st_size for p in files))
    for unit in ("B", "KB", "MB", "GB"):
        if total < 1024 or unit == "GB":
            return f"{total:.0f} {unit}" if unit == "B" else f"{total:.1f} {unit}"
        total /= 1024
    return ""


def run_md(paths: RunPaths) -> str:
    """The chosen run in one paragraph: model, steps, losses, adapter size and the merges on disk."""
    summary = run_summary(paths)
    cfg = summary.config
    done, total = summary.steps
    loss = DASH if summary.final_loss is None else f"{summary.final_loss:.4f}"
    eval_loss = DASH if summary.eval_loss is None else f"{summary.eval_loss:.4f}"
    icon = STATE_ICONS.get(summary.status.state, "")
    lines = [
        f"**`{paths.run_id}`** · {icon} {summary.status.state} · base model "
        f"`{cfg.model.name_or_path if cfg else '?'}` · {done}/{total or '?'} steps · final loss {loss} · "
        f"eval loss {eval_loss}"
    ]
    if paths.adapter.is_dir() and cfg is not None:
        quantized = cfg.model.quantized
        base_note = f", trained on a {quantized} base (merged into float32)" if quantized else ""
        lines.append(f"Adapter: {size_text(paths.adapter)} (r={cfg.lora.r}, init {cfg.lora.init}{base_note})")
    merged = list_merged(paths)
    if merged:
        lines.append("Merged models: " + ", ".join(f"`{p.name}` ({size_text(p)})" for p in merged))
    return "\n\n".join(lines)


def progress_html(status: ExportStatus, now: float | None = None) -> str:
    """A bar with the phase and elapsed time (the same look as the Train tab's)."""
    if status.state == "idle":
        return ""
    now = now or time.time()
    share = 1.0 if status.state == "completed" else max(0.0, min(status.progress, 1.0))
    parts = [f"{100 * share:.0f}%"]
    if status.started:
        parts.append(
            f"{'elapsed' if status.state == 'running' else 'took'} "
            f"{_clock((now if status.state == 'running' else status.finished or now) - status.started)}"
        )
    return progress_bar_html(status.phase or status.state, parts, share, status.state == "running")


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def status_md(status: ExportStatus, log: str = "") -> str:
    """The latest export in words; a failure says what happened and what to do, with the log's last lines."""
    if status.state == "idle":
        return "No export yet for this run."
    what = (
        ("merge" + (f" ({status.dtype})" if status.dtype else ""))
        if status.action == "merge"
        else f"GGUF export ({status.dtype})"
        if status.action == "gguf"
        else f"push to `{status.repo_id}`"
    )
    head = f"{EXPORT_ICONS.get(status.state, '')} **{what[0].upper() + what[1:]}: {status.state}**"
    if status.state == "running":
        return f"{head} — {status.phase}."
    if status.state == "completed":
        if status.action == "push":
            return f"{head} — [{status.url}]({status.url})" if status.url else head
        return f"{head} — saved to `{status.target}`."
    text = head + (f"\n\n{status.error}" if status.error else "")
    if status.hint:
        text += f"\n\n➡️ {status.hint}"
    if status.state == "failed" and log.strip():
        text += "\n\nLast lines of `export.log`:\n\n```\n" + log.strip()[-1500:] + "\n```"
    return text


def verification_md(report: dict | None) -> str:
    """The verification report: a table of the checks, the summary, and the answers side by side."""
    if not report:
        return ""
    rows = [
        "| check | max logit difference | tolerance | greedy answers equal | result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key in ("float32", "cast"):
        part = report.get(key)
        if part:
            label = "float32 merge" if key == "float32" else f"{part['dtype']} copy"
            rows.append(
                f"| {label} | {part['max_logit_diff']:.2e} | {part['tolerance']:.0e} | "
                f"{part['generations_matched']}/{part['prompts']} | {'✅' if part['passed'] else '❌'} |"
            )
    text = "#### Verification\n\n" + "\n".join(rows) + "\n\n" + verification_summary(report)
    samples = (report.get("cast") or report.get("float32") or {}).get("samples", [])
    if samples:
        text += "\n\n| prompt | base + adapter | merged model |\n| --- | --- | --- |\n"
        text += "\n".join(f"| {_cell(s['prompt'])} | {_cell(s['reference'])} | {_cell(s['merged'])} |" for s in samples)
    if report.get("seconds") is not None:
        text += f"\n\nMerge and verification took {report['seconds']:.0f} s."
    return text


def _cell(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).replace("\n", "↵").split()).replace("|", "\\|")  # line breaks stay visible
    return html.escape(text if len(text) <= limit else text[: limit - 1] + "…")


def shown_report(paths: RunPaths, dtype: str, status: ExportStatus) -> dict | None:
    """The report to show: the latest merge's (passed or not) for this dtype, else the saved one."""
    if status.action == "merge" and status.dtype == dtype and status.verification:
        return status.verification
    return read_verification(merged_dir(paths, dtype))


def push_choices(paths: RunPaths) -> list[tuple[str, str]]:
    """What can be pushed: the adapter, and every verified merge."""
    choices = [("adapter", "adapter")]
    for folder in list_merged(paths):
        choices.append((f"merged model ({folder.name})", f"merged-{folder.name}"))
    if any(gguf_dir(paths).glob("*.gguf")):
        choices.append(("GGUF files (with their Modelfiles and checks)", "gguf"))
    return choices


def merged_available(paths: RunPaths) -> dict[str, bool]:
    names = {p.name for p in list_merged(paths)}
    return {dtype: dtype in names for dtype in EXPORT_DTYPES}
