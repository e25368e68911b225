"""Benchmark: validating a data file before any weights load (target: 10 MB in under 2 s).

Run: .venv/bin/python bench/data_validation.py   → prints a table and rewrites its section of
docs/BENCHMARKS.md. The files are generated chat JSONL and CSV; median of 3 runs each.
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_section

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lora_studio.dataset_rows import load_dataset_file


def chat_jsonl(path: Path, megabytes: float) -> int:
    rows = 0
    with path.open("w", encoding="utf-8") as fh:
        while fh.tell() < megabytes * 2**20:
            q = f"Question {rows}: how many apples are left if I eat {rows % 7} of {rows % 13 + 7}?"
            a = f"You have {rows % 13 + 7 - rows % 7} apples left. " + "Keep counting carefully. " * 4
            fh.write(
                json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n"
            )
            rows += 1
    return rows


def qa_csv(path: Path, megabytes: float) -> int:
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt", "completion"])
        while fh.tell() < megabytes * 2**20:
            writer.writerow(
                [
                    f"Summarise note {rows}:\nthe meeting moved to room {rows % 40}.",
                    f"Meeting moved to room {rows % 40}. " * 3,
                ]
            )
            rows += 1
    return rows


def timed(path: Path) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        data = load_dataset_file(path)
        times.append(time.perf_counter() - started)
        assert data.rows and not data.errors
    return statistics.median(times)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for maker, suffix in ((chat_jsonl, "jsonl"), (qa_csv, "csv")):
            for size in (10, 100):
                path = Path(tmp) / f"data-{size}.{suffix}"
                n = maker(path, size)
                seconds = timed(path)
                note = "target ≤ 2 s" if size == 10 else "no target (issue 6 measures it)"
                rows.append(
                    (
                        f"{size} MB {suffix.upper()} ({n:,} rows): read, detect, check every row",
                        f"{seconds:.2f} s",
                        note,
                    )
                )
                print(rows[-1])
    print(
        write_section(
            "data_validation",
            "Data validation (before any weights load)",
            ".venv/bin/python bench/data_validation.py (median of 3)",
            rows,
        )
    )


if __name__ == "__main__":
    main()
