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
from lora_studio.messages import status_words, text
from lora_studio.modelcard import verification_summary
from lora_studio.runs import RunPaths, run_summary
from lora_studio.ui.formatting import progress_bar_html
from lora_studio.ui.runs_view import DASH, STATE_ICONS


def NO_RUN() -> str:
    """What the tab says when there is no run to export (a function: it answers in the current language)."""
    return text("export.no_run")


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
        text(
            "export.run_md",
            run_id=paths.run_id,
            icon=icon,
            state=status_words(summary.status.state),
            base=cfg.model.name_or_path if cfg else "?",
            done=done,
            total=total or "?",
            loss=loss,
            eval_loss=eval_loss,
        )
    ]
    if paths.adapter.is_dir() and cfg is not None:
        quantized = cfg.model.quantized
        base_note = text("export.run_quantized", quantized=quantized) if quantized else ""
        lines.append(
            text("export.run_adapter", size=size_text(paths.adapter), r=cfg.lora.r, init=cfg.lora.init, note=base_note)
        )
    merged = list_merged(paths)
    if merged:
        lines.append(text("export.run_merged", models=", ".join(f"`{p.name}` ({size_text(p)})" for p in merged)))
    return "\n\n".join(lines)


def progress_html(status: ExportStatus, now: float | None = None) -> str:
    """A bar with the phase and elapsed time (the same look as the Train tab's)."""
    if status.state == "idle":
        return ""
    now = now or time.time()
    share = 1.0 if status.state == "completed" else max(0.0, min(status.progress, 1.0))
    parts = [f"{100 * share:.0f}%"]
    if status.started:
        clock = _clock((now if status.state == "running" else status.finished or now) - status.started)
        parts.append(text("evaluate.elapsed" if status.state == "running" else "evaluate.took", clock=clock))
    return progress_bar_html(status_words(status.phase or status.state), parts, share, status.state == "running")


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def status_md(status: ExportStatus, log: str = "") -> str:
    """The latest export in words; a failure says what happened and what to do, with the log's last lines."""
    if status.state == "idle":
        return text("export.status.none")
    if status.action == "merge":
        what = text("export.what.merge_dtype", dtype=status.dtype) if status.dtype else text("export.what.merge")
    elif status.action == "gguf":
        what = text("export.what.gguf", dtype=status.dtype)
    else:
        what = text("export.what.push", repo_id=status.repo_id)
    head = f"{EXPORT_ICONS.get(status.state, '')} **{what}: {status_words(status.state)}**"
    if status.state == "running":
        return text("export.status.running", head=head, phase=status_words(status.phase))
    if status.state == "completed":
        if status.action == "push":
            return f"{head} — [{status.url}]({status.url})" if status.url else head
        return text("export.status.saved", head=head, target=status.target)
    said = head + (f"\n\n{status.error_words()}" if status.error else "")
    if status.hint:
        said += f"\n\n➡️ {status.hint_words()}"
    if status.state == "failed" and log.strip():
        said += "\n\n" + text("export.status.log_tail") + "\n\n```\n" + log.strip()[-1500:] + "\n```"
    return said


def verification_md(report: dict | None) -> str:
    """The verification report: a table of the checks, the summary, and the answers side by side."""
    if not report:
        return ""
    rows = [text("export.verify.columns"), "| --- | --- | --- | --- | --- |"]
    for key in ("float32", "cast"):
        part = report.get(key)
        if part:
            label = (
                text("export.verify.float32") if key == "float32" else text("export.verify.cast", dtype=part["dtype"])
            )
            rows.append(
                f"| {label} | {part['max_logit_diff']:.2e} | {part['tolerance']:.0e} | "
                f"{part['generations_matched']}/{part['prompts']} | {'✅' if part['passed'] else '❌'} |"
            )
    said = text("export.verify.title") + "\n\n" + "\n".join(rows) + "\n\n" + verification_summary(report)
    samples = (report.get("cast") or report.get("float32") or {}).get("samples", [])
    if samples:
        said += "\n\n" + text("export.verify.sample_columns") + "\n| --- | --- | --- |\n"
        said += "\n".join(f"| {_cell(s['prompt'])} | {_cell(s['reference'])} | {_cell(s['merged'])} |" for s in samples)
    if report.get("seconds") is not None:
        said += "\n\n" + text("export.verify.took", seconds=report["seconds"])
    return said


def _cell(value: str, limit: int = 120) -> str:
    value = " ".join(str(value).replace("\n", "↵").split()).replace("|", "\\|")  # line breaks stay visible
    return html.escape(value if len(value) <= limit else value[: limit - 1] + "…")


def shown_report(paths: RunPaths, dtype: str, status: ExportStatus) -> dict | None:
    """The report to show: the latest merge's (passed or not) for this dtype, else the saved one."""
    if status.action == "merge" and status.dtype == dtype and status.verification:
        return status.verification
    return read_verification(merged_dir(paths, dtype))


def push_choices(paths: RunPaths) -> list[tuple[str, str]]:
    """What can be pushed: the adapter, and every verified merge."""
    choices = [(text("export.push.adapter"), "adapter")]
    for folder in list_merged(paths):
        choices.append((text("export.push.merged", name=folder.name), f"merged-{folder.name}"))
    if any(gguf_dir(paths).glob("*.gguf")):
        choices.append((text("export.push.gguf"), "gguf"))
    return choices


def merged_available(paths: RunPaths) -> dict[str, bool]:
    names = {p.name for p in list_merged(paths)}
    return {dtype: dtype in names for dtype in EXPORT_DTYPES}
