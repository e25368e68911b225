"""Shared by the benchmark scripts: machine description and docs/BENCHMARKS.md sections."""

from __future__ import annotations

import os
import platform
import re
import resource
import socket
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


def write_section(
    key: str,
    title: str,
    command: str,
    rows: list[tuple[str, ...]],
    header: tuple[str, ...] = ("measure", "median", "note"),
    notes: str = "",
) -> str:
    """Replace (or append) the section `key` of docs/BENCHMARKS.md with a table (and notes below it); returns it."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    table = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *["| " + " | ".join(row) + " |" for row in rows],
    ]
    section = "\n".join(
        [
            begin,
            f"## {title}",
            "",
            f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. Command: `{command}`.",
            "",
            *table,
            *(["", notes.strip()] if notes.strip() else []),
            end,
        ]
    )
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\nMeasured by the scripts in `bench/`.\n"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    return section


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time so far of process `pid` (Linux /proc), or of this process."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
