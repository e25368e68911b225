"""Shared by the benchmark scripts: machine description and docs/BENCHMARKS.md sections."""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "BENCHMARKS.md"


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, GPU: {gpu}"


def write_section(key: str, title: str, command: str, rows: list[tuple[str, str, str]]) -> str:
    """Replace (or append) the section `key` of docs/BENCHMARKS.md with a table; returns it."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    table = ["| measure | median | note |", "| --- | --- | --- |", *[f"| {a} | {b} | {c} |" for a, b, c in rows]]
    section = "\n".join([begin, f"## {title}", "", f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. "
                         f"Command: `{command}`.", "", *table, end])
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\nMeasured by the scripts in `bench/`.\n"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    return section
