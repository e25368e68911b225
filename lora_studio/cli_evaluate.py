"""The command line's `evaluate`: score a run's adapter (and the base) on its held-out rows or a file.

    lora-studio evaluate --run-dir RUN [--data FILE] [--map COL=ROLE] [--base] [--limit N] [--out FILE.json]

The same checks, worker and files as the Evaluate tab: the worker runs in this terminal (its log on ours),
the results land in RUN/eval/<id>/, the metric table is printed and `--out` gets
{"<model label>": {"exact_match": ..., "rougeL": ..., ...}}. Exit 1 when the evaluation failed, 2 when the
input was refused before it started.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

from lora_studio import processes
from lora_studio.adapters import run_adapter
from lora_studio.cli_train import fail
from lora_studio.config import COLUMN_ROLES, RunConfig
from lora_studio.dataset_rows import FormatUnknownError
from lora_studio.errors import ConfigError
from lora_studio.eval_report import metric_table, read_summary, scores_json
from lora_studio.evaluation import (
    DEFAULT_BATCH,
    begin,
    eval_root,
    file_rows,
    models_for,
    read_eval_status,
    split_rows,
    update_eval_status,
    worker_argv,
    write_spec,
)
from lora_studio.generation_config import GenerationSettings, parse_overrides
from lora_studio.runs import ADAPTER_STATES, RunPaths, read_status


def parse_map(items: list[str]) -> dict[str, str]:
    """--map COLUMN=ROLE items → {role: column}, as the Data tab's column mapping."""
    mapping = {}
    for item in items:
        column, sep, role = item.partition("=")
        if not sep or role not in COLUMN_ROLES:
            raise ConfigError(
                f"cannot read --map {item!r}", f"write it as COLUMN=ROLE with ROLE one of {', '.join(COLUMN_ROLES)}"
            )
        mapping[role] = column
    return mapping


def generation_settings(items: list[str]) -> GenerationSettings:
    """Greedy unless a --set says otherwise (the Playground's settings, temperature 0 by default)."""
    return parse_overrides(["temperature=0", *items])


def print_table(summary: dict) -> None:
    table = metric_table(summary)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    data = summary["data"]
    print(f"rows: {data['rows']} evaluated, {len(data.get('skipped') or [])} skipped (no reference answer)")
    for label, counts in summary.get("verdicts", {}).items():
        print(f"{label} vs base: better on {counts['better']}, worse on {counts['worse']}, same on {counts['same']}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    paths = RunPaths(Path(args.run_dir).expanduser().resolve())
    if not paths.config.is_file():
        raise ConfigError(f"{args.run_dir} is not a run folder (no config.yaml)", "Pass a folder under runs/")
    cfg = RunConfig.load(paths.config)
    generation = generation_settings(args.set or [])
    if args.data:
        try:
            rows = file_rows(Path(args.data).expanduser(), parse_map(args.map or []), args.limit)
        except FormatUnknownError as exc:
            raise ConfigError(
                exc.message, "Say which to use: --map COLUMN=prompt --map COLUMN=completion, or --map COLUMN=messages"
            ) from exc
    else:
        rows = split_rows(paths, args.limit)
    has_adapter = read_status(paths).state in ADAPTER_STATES and paths.adapter.is_dir()
    if not has_adapter and not args.base:
        raise ConfigError(
            f"Run {paths.run_id} has no finished adapter to evaluate", "Pass --base to evaluate the base model alone"
        )
    adapters = [run_adapter(paths)] if has_adapter else []
    models = models_for(cfg.model.name_or_path, args.base, adapters)
    skipped = rows.skipped
    if skipped:
        listed = ", ".join(str(s["row"]) for s in skipped[:10]) + (" …" if len(skipped) > 10 else "")
        print(f"skipping {len(skipped)} row(s) without a reference answer: {listed}")
    base = dataclasses.asdict(cfg.model)
    root = eval_root(paths)
    folder = write_spec(root, base, models, rows, generation, args.batch_size)
    try:
        begin(folder)
    except ConfigError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    print(f"evaluating {len(rows.rows)} row(s) with {', '.join(m.label for m in models)}")
    try:
        code = processes.run_in_foreground(worker_argv(folder))
    except processes.WorkerStartError as exc:
        update_eval_status(root, **exc.status_fields("the evaluation"))
        shutil.rmtree(folder, ignore_errors=True)
        raise
    status = read_eval_status(root)
    if code != 0 or status.state != "completed":
        shutil.rmtree(folder, ignore_errors=True)
        message = status.error or f"the evaluation worker ended with exit code {code}"
        return fail(f"{message}. {status.hint}".strip(), 1)
    summary = read_summary(Path(status.result))
    if summary is None:
        return fail(f"the evaluation wrote no readable summary in {status.result}", 1)
    print_table(summary)
    print(f"results: {status.result}")
    if args.out:
        out = Path(args.out).expanduser()
        out.write_text(json.dumps(scores_json(summary), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"scores: {out}")
    return 0


def add_parser(sub) -> None:
    from lora_studio.cli_help import generation_settings_epilog

    evaluate = sub.add_parser(
        "evaluate",
        help="score a run's adapter (and the base) on its held-out rows or a file",
        description=__doc__,
        epilog=generation_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("--run-dir", required=True, help="the run folder")
    evaluate.add_argument("--data", help="a data file to evaluate on (default: the run's held-out rows)")
    evaluate.add_argument(
        "--map", action="append", metavar="COLUMN=ROLE", help=f"use COLUMN as one of: {', '.join(COLUMN_ROLES)}"
    )
    evaluate.add_argument("--base", action="store_true", help="also evaluate the base model, for comparison")
    evaluate.add_argument("--limit", type=_count, default=0, metavar="N", help="only the first N rows")
    evaluate.add_argument(
        "--batch-size", type=_count, default=DEFAULT_BATCH, metavar="N", help="rows answered together"
    )
    evaluate.add_argument("--out", metavar="FILE.json", help="write the scores as JSON")
    evaluate.add_argument("--set", action="append", metavar="NAME=VALUE", help="a generation setting (see below)")
    evaluate.set_defaults(func=cmd_evaluate)


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)
