"""What the Evaluate tab shows, as plain values (no gradio): the score table, the verdict, the rows with the
differences highlighted, progress and status. Every word comes from the message catalogue."""

from __future__ import annotations

import difflib
import html
import re
import time

from lora_studio.config import COLUMN_ROLES
from lora_studio.errors import ConfigError, StudioError
from lora_studio.eval_report import format_value
from lora_studio.evaluation import BASE_LABEL, EvalStatus
from lora_studio.messages import status_words, text
from lora_studio.scoring import JSON_KEYS, PRIMARY_ORDER
from lora_studio.ui.formatting import error_md, progress_bar_html

FILTERS = ("all", "changed", "better", "worse")
MAX_ROWS_SHOWN = 200  # the page stays light; the downloads hold every row
SHOWN_SCORES = ("exact_match_loose", "rougeL", "chrf", "json_equal")  # per-row scores beside each answer

CSS = """
.ls-eval-rows table { width: 100%; border-collapse: collapse; font-size: 0.9rem; }
.ls-eval-rows th, .ls-eval-rows td { border: 1px solid var(--block-border-color); padding: 4px 6px;
  vertical-align: top; white-space: pre-wrap; }
.ls-eval-rows td.better { background: rgba(46, 160, 67, 0.15); }
.ls-eval-rows td.worse { background: rgba(248, 81, 73, 0.15); }
.ls-eval-rows .ls-cell { max-height: 12em; overflow-y: auto; }
.ls-eval-rows mark { background: rgba(255, 200, 0, 0.45); padding: 0; }
.ls-eval-rows .ls-score { display: block; color: var(--body-text-color-subdued); font-size: 0.8rem; }
"""


def parse_mapping(raw: str | None) -> dict[str, str]:
    """'question=prompt, answer=completion' → {role: column}, the CLI's --map pairs in one text box."""
    mapping: dict[str, str] = {}
    for item in (raw or "").replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        column, sep, role = item.partition("=")
        if not sep or role.strip() not in COLUMN_ROLES or not column.strip():
            raise ConfigError(
                text("evaluate.bad_map", item=item), text("evaluate.bad_map_hint", roles=", ".join(COLUMN_ROLES))
            )
        mapping[role.strip()] = column.strip()
    return mapping


def metric_label(metric: str) -> str:
    return text(f"evaluate.metric.{metric}")


def score_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): one row per metric that applies, one column per model."""
    labels = list(summary["models"])
    rows = [
        [metric_label(m), *(format_value(m, summary["models"][label].get(m)) for label in labels)]
        for m in summary["metrics"]
    ]
    return [text("evaluate.col.metric"), *labels], rows


def summary_md(summary: dict, folder: str) -> str:
    data, gen = summary["data"], summary["generation"]
    source = (
        text("evaluate.source_split_of", run_id=data.get("run_id", ""))
        if data.get("source") == "split"
        else f"`{data.get('path', '').rsplit('/', 1)[-1]}`"
    )
    how = (
        text("evaluate.greedy")
        if float(gen.get("temperature", 0)) <= 0
        else text("evaluate.sampled", temperature=gen["temperature"])
    )
    lines = [
        text("evaluate.summary", rows=data["rows"], source=source, tokens=gen["max_new_tokens"], how=how, folder=folder)
    ]
    skipped = data.get("skipped") or []
    if skipped:
        lines.append(text("evaluate.skipped", count=len(skipped), rows=_row_list(skipped)))
    json_shown = any(m in JSON_KEYS for m in summary["metrics"])
    lines.append(text("evaluate.json_applies") if json_shown else text("evaluate.json_left_out"))
    for label, counts in summary.get("verdicts", {}).items():
        lines.append(text("evaluate.verdict", label=label, **counts))
    if summary.get("verdicts"):
        order = ", ".join(metric_label(m) for m in PRIMARY_ORDER if m in summary["metrics"])
        lines.append(text("evaluate.compared_on", order=order))
    return "\n\n".join(lines)


def _row_list(skipped: list[dict], limit: int = 10) -> str:
    shown = ", ".join(str(s.get("row")) for s in skipped[:limit])
    return shown + (" …" if len(skipped) > limit else "")


def skipped_note(skipped: list[dict]) -> str:
    return text("evaluate.skipped", count=len(skipped), rows=_row_list(skipped)) if skipped else ""


def adapters_of(summary: dict) -> list[str]:
    return [label for label in summary["models"] if label != BASE_LABEL]


def filter_rows(rows: list[dict], which: str, label: str | None) -> list[dict]:
    """Rows for a filter: all, changed (the adapter's answer differs from the base's), better or worse."""
    if which == "all" or not label:
        return rows
    if which == "changed":
        return [r for r in rows if BASE_LABEL in r["answers"] and r["answers"].get(label) != r["answers"][BASE_LABEL]]
    return [r for r in rows if r.get("verdicts", {}).get(label) == which]


_WORD = re.compile(r"\s+|\w+|[^\w\s]")


def highlight(answer: str, against: str) -> str:
    """`answer` as HTML with the words that differ from `against` marked."""
    mine, theirs = _WORD.findall(answer), _WORD.findall(against)
    out = []
    for op, _, _, start, end in difflib.SequenceMatcher(None, theirs, mine, autojunk=False).get_opcodes():
        piece = html.escape("".join(mine[start:end]))
        out.append(piece if op == "equal" or not piece.strip() else f"<mark>{piece}</mark>")
    return "".join(out)


def _scores_line(scores: dict) -> str:
    shown = [
        f"{text('evaluate.short.' + m)}: {format_value(m, scores.get(m))}"
        for m in SHOWN_SCORES
        if scores.get(m) is not None
    ]
    return f'<span class="ls-score">{html.escape(" · ".join(shown))}</span>'


def rows_html(rows: list[dict], labels: list[str], label: str | None, count: int) -> str:
    """The row table: prompt, reference, each model's answer with its scores; the compared adapter's cell
    green when it beat the base and red when it did worse, its words that differ from the base's marked."""
    if not rows:
        return f"<p>{html.escape(text('evaluate.no_rows_shown'))}</p>"
    head = [text("evaluate.col.row"), text("evaluate.col.prompt"), text("evaluate.col.reference"), *labels]
    parts = ['<div class="ls-eval-rows"><table><thead><tr>']
    parts += [f"<th>{html.escape(h)}</th>" for h in head]
    parts.append("</tr></thead><tbody>")
    for row in rows[:MAX_ROWS_SHOWN]:
        cells = [str(row["row"]), html.escape(row["prompt"]), html.escape(row["reference"])]
        parts.append("<tr>" + "".join(f'<td><div class="ls-cell">{c}</div></td>' for c in cells))
        for model in labels:
            answer = row["answers"].get(model, "")
            verdict = row.get("verdicts", {}).get(model, "") if model == label else ""
            body = (
                highlight(answer, row["answers"][BASE_LABEL])
                if model == label and BASE_LABEL in row["answers"]
                else html.escape(answer)
            )
            title = f' title="{html.escape(text(f"evaluate.verdict.{verdict}"))}"' if verdict else ""
            css = f' class="{verdict}"' if verdict in ("better", "worse") else ""
            scores = _scores_line(row["scores"].get(model, {}))
            parts.append(f'<td{css}{title}><div class="ls-cell">{body}</div>{scores}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table></div>")
    if count > MAX_ROWS_SHOWN:
        parts.append(f"<p>{html.escape(text('evaluate.rows_cut', shown=MAX_ROWS_SHOWN, count=count))}</p>")
    return "".join(parts)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def progress_html(status: EvalStatus, now: float | None = None) -> str:
    """A bar with the phase, answers done of all, the ETA or the time it took (the Train tab's look)."""
    if status.state in ("idle", ""):
        return ""
    now = now or time.time()
    running = status.state == "running"
    share = 1.0 if status.state == "completed" else status.rows_done / max(status.rows_total, 1)
    parts = [text("evaluate.progress", done=status.rows_done, total=status.rows_total)]
    if running and status.eta_s is not None and status.rows_done:
        parts.append(text("evaluate.eta", clock=_clock(status.eta_s)))
    if status.started:
        end = now if running else (status.finished or now)
        parts.append(text("evaluate.elapsed" if running else "evaluate.took", clock=_clock(end - status.started)))
    return progress_bar_html(status_words(status.phase or status.state), parts, share, running)


def status_md(status: EvalStatus) -> str:
    if status.state == "completed":
        return text("evaluate.state.completed")
    if status.state == "cancelled":
        return text("evaluate.state.cancelled")
    if status.state == "failed":
        return error_md(StudioError(status.error_words() or "?", status.hint_words()))
    return ""
