"""An evaluation's results: scoring the answers, the summary and row files, and reading them back. No torch.

    summary.json  {"id", "finished", "base", "data": {...}, "generation": {...}, "metrics": [...],
                   "models": {"base": {"exact_match": ..., "rougeL": ..., "loss": ...}, "<run id>": {...}},
                   "verdicts": {"<run id>": {"better": n, "worse": n, "same": n}}}
    rows.jsonl    one line per row: prompt, reference, each model's answer, its scores and its verdict

The worker calls `build_results` then `write_results`; the CLI, the Evaluate tab and the Runs tab read.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path

from lora_studio.evaluation import BASE_LABEL, MODEL_METRICS, PREFERENCE_METRIC, ROWS_FILE, SUMMARY_FILE, eval_root
from lora_studio.modelref import public_base
from lora_studio.runs import list_runs, write_json_atomic
from lora_studio.scoring import PERCENT_KEYS, PRIMARY_ORDER, applicable_metrics, row_verdict, score_row, summarise
from lora_studio.settings import runs_dir


def _mean(values: list[float]) -> float | None:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return sum(kept) / len(kept) if kept else None


def _prompt_text(messages: list[dict]) -> str:
    users = [m["content"] for m in messages if m["role"] == "user"]
    return users[-1] if users else ""


def build_results(spec: dict, outputs: dict[str, dict], max_new_tokens: int) -> tuple[dict, list[dict]]:
    """(summary, rows) from each model's answers, answer lengths, reference losses and seconds."""
    rows = spec["rows"]
    references = [r["reference"] for r in rows]
    metrics = applicable_metrics(references)
    per_row: dict[str, list[dict[str, float]]] = {}
    models: dict[str, dict] = {}
    for label, out in outputs.items():
        scores = [score_row(a, ref, metrics) for a, ref in zip(out["answers"], references, strict=True)]
        for row_scores, (nll, n) in zip(scores, out["losses"], strict=True):
            if n:  # a reference of no tokens has no loss: the key is left out
                row_scores["loss"] = nll / n
        rejected = out.get("rejected_losses")
        if rejected is not None:  # pairs: does the model find the chosen answer more likely than the rejected?
            for row_scores, (nll, n), (nll_r, n_r) in zip(scores, out["losses"], rejected, strict=True):
                if n and n_r:
                    row_scores[PREFERENCE_METRIC] = 1.0 if nll < nll_r else 0.0
        per_row[label] = scores
        nll_sum = sum(nll for nll, n in out["losses"] if n)
        tokens = sum(n for _, n in out["losses"])
        loss = nll_sum / tokens if tokens else None
        models[label] = {
            **summarise(out["answers"], references, metrics),
            "loss": loss,
            "perplexity": math.exp(loss) if loss is not None and loss < 50 else None,
            "answer_tokens": _mean([float(c) for c in out["answer_tokens"]]),
            "seconds_per_row": out["seconds"] / max(len(rows), 1),
        }
        if rejected is not None:
            models[label][PREFERENCE_METRIC] = _mean([r[PREFERENCE_METRIC] for r in scores if PREFERENCE_METRIC in r])
    verdicts: dict[str, dict[str, int]] = {}
    records = []
    for i, row in enumerate(rows):
        record = {
            "row": row["row"],
            "prompt": _prompt_text(row["messages"]),
            "messages": row["messages"],
            "reference": row["reference"],
            "answers": {label: out["answers"][i] for label, out in outputs.items()},
            "scores": {label: per_row[label][i] for label in outputs},
            "verdicts": {},
        }
        if BASE_LABEL in outputs:
            for label in outputs:
                if label != BASE_LABEL:
                    verdict = row_verdict(per_row[BASE_LABEL][i], per_row[label][i])
                    record["verdicts"][label] = verdict
                    counts = verdicts.setdefault(label, {"better": 0, "worse": 0, "same": 0})
                    counts[verdict] += 1
        records.append(record)
    summary = {
        "id": spec["id"],
        "created": spec["created"],
        "finished": time.time(),
        "base": public_base(spec["base"]["name_or_path"]).id,
        "data": {**spec["data"], "rows": len(rows)},
        "generation": {**spec["generation"], "max_new_tokens": max_new_tokens},
        "batch_size": spec["batch_size"],
        "metrics": [
            *metrics,
            *([PREFERENCE_METRIC] if all("rejected_losses" in out for out in outputs.values()) else []),
            *MODEL_METRICS,
        ],
        "models": models,
        "verdicts": verdicts,
        "compared_on": list(PRIMARY_ORDER),
    }
    return summary, records


def write_results(folder: Path, summary: dict, rows: list[dict]) -> Path:
    """rows.jsonl and summary.json into the hidden folder, then the folder renamed to its visible name."""
    with (folder / ROWS_FILE).open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    write_json_atomic(folder / SUMMARY_FILE, summary)
    final = folder.parent / folder.name.lstrip(".")
    folder.rename(final)
    return final


# ---- reading -----------------------------------------------------------------------------------
def read_summary(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("models"), dict) else None


def read_rows(folder: Path) -> list[dict]:
    try:
        lines = (folder / ROWS_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def evaluations(root: Path) -> list[Path]:
    """Finished evaluations in an eval root, newest first (hidden folders are unfinished)."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / SUMMARY_FILE).is_file()]
    return sorted(found, key=lambda p: p.name, reverse=True)


def latest_scores(root: Path | None = None) -> dict[str, dict]:
    """run id → its adapter's scores in the newest evaluation that measured it (the Runs tab's columns)."""
    best: dict[str, tuple[float, dict]] = {}
    for paths in list_runs(root or runs_dir()):
        for folder in evaluations(eval_root(paths)):
            summary = read_summary(folder)
            if summary is None:
                continue
            finished = float(summary.get("finished") or 0)
            for label, scores in summary["models"].items():
                newer = label not in best or best[label][0] < finished
                if label != BASE_LABEL and isinstance(scores, dict) and newer:
                    best[label] = (finished, scores)
    return {label: scores for label, (_, scores) in best.items()}


def scores_json(summary: dict) -> dict[str, dict]:
    """What `evaluate --out` writes: {"<model label>": {"exact_match": ..., "rougeL": ..., ...}}."""
    return {label: dict(scores) for label, scores in summary["models"].items()}


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric in PERCENT_KEYS:
        return f"{value:.1f}"
    if metric in ("loss", "perplexity"):
        return f"{value:.3f}"
    if metric == "answer_tokens":
        return f"{value:.1f}"
    if metric == "seconds_per_row":
        return f"{value:.2f}"
    return f"{value:.3f}"


def metric_table(summary: dict) -> list[list[str]]:
    """[metric, value per model...] rows, the header first (the CLI prints it; the tab shows it)."""
    labels = list(summary["models"])
    table = [["metric", *labels]]
    for metric in summary["metrics"]:
        table.append([metric, *(format_value(metric, summary["models"][label].get(metric)) for label in labels)])
    return table


def rows_csv(rows: list[dict]) -> str:
    """The row table as CSV: row, prompt, reference, then each model's answer and main scores."""
    labels = list(rows[0]["answers"]) if rows else []
    out = io.StringIO()
    writer = csv.writer(out)
    metric_names = sorted({m for row in rows for s in row["scores"].values() for m in s})
    writer.writerow(
        [
            "row",
            "prompt",
            "reference",
            *(f"{label}: answer" for label in labels),
            *(f"{label}: {m}" for label in labels for m in metric_names),
            *(f"{label}: verdict" for label in labels if label != BASE_LABEL),
        ]
    )
    for row in rows:
        writer.writerow(
            [
                row["row"],
                row["prompt"],
                row["reference"],
                *(row["answers"][label] for label in labels),
                *(row["scores"][label].get(m) for label in labels for m in metric_names),
                *(row["verdicts"].get(label, "") for label in labels if label != BASE_LABEL),
            ]
        )
    return out.getvalue()
