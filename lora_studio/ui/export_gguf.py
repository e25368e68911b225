"""The GGUF part of the Merge & Export tab: export a run as one GGUF file for llama.cpp, Ollama and LM Studio,
then read its verification and the commands that run it. The export itself is an export worker action
(`exports.start_gguf`); the tab's status, progress and timer show it like a merge."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import gradio as gr

from lora_studio import exports, gguf_files
from lora_studio.errors import StudioError
from lora_studio.messages import text
from lora_studio.runs import RunPaths
from lora_studio.ui.formatting import error_md


def files(paths: RunPaths) -> list[Path]:
    """The run's verified GGUF files, in the order of GGUF_TYPES."""
    found = []
    for qtype in gguf_files.GGUF_TYPES:
        path = gguf_files.gguf_path(paths, qtype)
        report = gguf_files.read_report(path)
        if path.is_file() and report and report.get("passed"):
            found.append(path)
    return found


def gguf_md(paths: RunPaths | None) -> str:
    """Each verified file with its size, its verification and the commands that run it."""
    if paths is None:
        return ""
    found = files(paths)
    if not found:
        return text("gguf.none")
    parts = []
    for path in found:
        report = gguf_files.read_report(path) or {}
        commands = "\n".join(gguf_files.run_commands(path))
        parts.append(
            text("gguf.file", name=path.name, size=f"{path.stat().st_size / 2**20:.0f} MB")
            + f"\n\n{gguf_files.report_summary(report)}\n\n```bash\n{commands}\n```"
        )
    return "\n\n".join(parts)


def download(paths: RunPaths | None, download_path) -> Any:
    """The newest verified GGUF, linked (or copied) into Gradio's upload folder for the download button."""
    found = files(paths) if paths is not None else []
    if not found:  # only switched off: an update to value None here stalled other tabs' updates (seen in e2e)
        return gr.update(interactive=False)
    newest = max(found, key=lambda p: p.stat().st_mtime)
    target = download_path(newest.name)
    try:
        os.link(newest, target)  # no second copy of a large file when both sit on one disk
    except OSError:
        shutil.copyfile(newest, target)
    return gr.update(value=str(target), interactive=True, label=text("gguf.download", name=newest.name))


def on_export(paths: RunPaths | None, qtype: str) -> str:
    if paths is None:
        return text("gguf.pick_run")
    try:
        exports.start_gguf(paths, qtype)
    except StudioError as exc:
        return error_md(exc)
    return text("gguf.started", run_id=paths.run_id, type=qtype)


def build(c: dict[str, Any]) -> None:
    with gr.Column():
        gr.Markdown(text("gguf.title"))
        c["gguf_type"] = gr.Radio(
            list(gguf_files.GGUF_TYPES),
            value=gguf_files.GGUF_TYPES[0],
            label=text("gguf.type_label"),
            info=text("gguf.type_info"),
            elem_id="export-gguf-type",
        )
        with gr.Row():
            c["gguf_btn"] = gr.Button(text("gguf.button"), interactive=False, elem_id="export-gguf")
            c["gguf_dl"] = gr.DownloadButton(text("gguf.download_none"), interactive=False, elem_id="export-gguf-dl")
        c["gguf_message"] = gr.Markdown(elem_id="export-gguf-message")
        c["gguf_info"] = gr.Markdown(elem_id="export-gguf-info")
