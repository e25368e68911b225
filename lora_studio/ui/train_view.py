"""What the Train tab shows for one run: plain values from the run directory, no gradio, no torch.

`Watch` is a reader's view of one run (which run, how far its metrics were read): the Train tab's one reader of the
runs folder keeps one per watched run (ui/train_feed.py). `refresh()` reads only what changed since the last read;
`describe()` turns a status into words.
"""

from __future__ import annotations

import html
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from lora_studio.config import RunConfig
from lora_studio.errors import KINDS, StudioError
from lora_studio.messages import status_words, text
from lora_studio.metrics import MetricRow, MetricsReader, latest_per_step
from lora_studio.reporting import logs_line
from lora_studio.runs import RunPaths, RunStatus, read_status, tail_lines
from lora_studio.sample_answers import read_samples
from lora_studio.ui.runs_view import STATE_ICONS

LOG_LINES = 40


def error_words(kind: str) -> str:
    """What happened to a failed run, by its error kind (errors.KINDS): 'the run ran out of memory'."""
    return text(f"train.error.{kind}") if kind in KINDS else text("train.error.other")


@dataclass
class Watch:
    """A reader's view of one run: how far its files were read, and what was read last."""

    run_id: str = ""
    offset: int = 0  # bytes of metrics.jsonl already read
    rows: list[MetricRow] = field(default_factory=list)
    status_key: str = ""  # the last status shown, to skip redraws when nothing changed
    log_size: int = -1
    samples_size: int = -1
    queue_key: str = ""
    status: RunStatus | None = None  # the status as last read, step included

    def metric_rows(self) -> list[MetricRow]:
        return latest_per_step(self.rows)


@dataclass
class Changes:
    """What changed since the last tick; None = unchanged (the tab skips that output)."""

    rows: list[MetricRow] | None = None
    status: RunStatus | None = None
    log: str | None = None
    samples: pd.DataFrame | None = None


def refresh(watch: Watch, root: Path, full: bool = False) -> Changes:
    """Advance `watch` over the run's files; `full` re-reads the whole history (page load, switch)."""
    changes = Changes()
    if not watch.run_id:
        return changes
    paths = RunPaths(root / watch.run_id)
    if full:
        watch.offset, watch.rows, watch.status_key, watch.log_size, watch.samples_size = 0, [], "", -1, -1
    reader = MetricsReader(paths.metrics, watch.offset)
    new = reader.read_new()
    watch.offset = reader.offset
    if new or full:
        watch.rows.extend(new)
        changes.rows = watch.metric_rows()
    status = watch.status = read_status(paths)
    # Not keyed on the step: it moves with each metrics row, which redraws the chart and progress anyway, and
    # a status redraw (text, buttons, the run list that reads every run's status) per step per session is waste.
    key = repr({k: v for k, v in asdict(status).items() if k != "step"})
    if key != watch.status_key or full:
        watch.status_key, changes.status = key, status
    size = _size(paths.log)
    if size != watch.log_size:
        watch.log_size, changes.log = size, log_tail(paths.log)
    size = _size(paths.samples)
    if size != watch.samples_size:
        watch.samples_size, changes.samples = size, samples_table(paths.samples)
    return changes


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def log_tail(path: Path, lines: int = LOG_LINES) -> str:
    return tail_lines(path, lines) or ""


def samples_table(path: Path) -> pd.DataFrame:
    """Sample answers, newest checkpoint first, so the change as the loss falls reads top-down."""
    rows = read_samples(path)
    columns = [text("train.samples.step"), text("train.samples.prompt"), text("train.samples.answer")]
    return pd.DataFrame([(r.step, r.prompt, r.output.strip()) for r in reversed(rows)], columns=columns)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_html(status: RunStatus, rows: list[MetricRow], now: float | None = None) -> str:
    """A progress bar with step/total, epoch, tokens/s and ETA; before the first step, the phase and its time."""
    now = now or time.time()
    logs = [r for r in rows if r.event == "log"]
    last = logs[-1] if logs else None
    total = max(status.max_steps or (last.max_steps if last else 0), 0)  # -1: the trainer has not counted yet
    step = max(status.step, last.step if last else 0)
    share = min(step / total, 1.0) if total else 0.0
    if status.state == "completed":
        share = 1.0
    parts = [text("train.progress.step", step=step, total=total or "?")]
    if last and last.epoch is not None:
        parts.append(text("train.progress.epoch", epoch=last.epoch))
    if last and last.tokens_per_sec:
        parts.append(text("train.progress.speed", speed=last.tokens_per_sec))
    if status.state == "running" and last and last.eta_s is not None:
        parts.append(text("train.progress.eta", clock=_clock(last.eta_s)))
    if status.state == "running" and status.started:
        elapsed = max(int(now - status.started), 0)
        clock = f'<span class="ls-clock" data-elapsed="{elapsed}">{_clock(elapsed)}</span>'
        parts.append(text("evaluate.elapsed", clock=clock))  # the page moves it on (page_scripts.CLOCK_SCRIPT)
    phase = html.escape(status_words(status.phase or status.state))
    busy = status.state == "running" and not logs
    label = f"{phase}…" if busy else phase
    return (
        '<div class="ls-progress">'
        f'<div class="ls-progress-label"><b>{label}</b> · {" · ".join(parts)}</div>'
        f'<div class="ls-progress-track"><div class="ls-progress-fill{" ls-busy" if busy else ""}" '
        f'style="width:{100 * share:.1f}%"></div></div></div>'
    )


def reports_line(paths: RunPaths) -> str:
    """Where the run also sends its training curves (training.report_to) and how to open them, as the training log
    says it too; '' when it reports nowhere else or its config cannot be read."""
    try:
        tool = RunConfig.load(paths.config).training.report_to
    except (StudioError, OSError):
        return ""
    return logs_line(str(tool), paths)


def describe(
    status: RunStatus, run_id: str, queue_position: int | None = None, log: str = "", reports: str = ""
) -> str:
    """The run's state in words; a failure says what happened, what to do, and shows the log's last lines. `reports`
    (reports_line) follows as a paragraph of its own."""
    words = _state_words(status, run_id, queue_position, log)
    return f"{words}\n\n{reports}" if reports else words


def _state_words(status: RunStatus, run_id: str, queue_position: int | None, log: str) -> str:
    icon = STATE_ICONS.get(status.state, "")
    head = text("train.head", icon=icon, run_id=run_id, state=status_words(status.state))
    if status.state == "queued":
        where = text("train.queue_position", position=queue_position) if queue_position else text("train.queue_waiting")
        return text("train.queued", head=head, where=where)
    if status.state == "running":
        return text("train.running", head=head, phase=status_words(status.phase or "starting"))
    if status.state == "completed":
        loss = text("train.final_loss", loss=status.final_loss) if status.final_loss is not None else ""
        return text("train.completed", head=head, step=status.step, max_steps=status.max_steps, loss=loss)
    if status.state == "stopped":
        return text("train.stopped", head=head, step=status.step, max_steps=status.max_steps)
    error = status.error_words() or text("train.no_reason")
    words = text("train.ended", head=head, what=error_words(status.error_kind), error=error)
    if status.hint:
        words += f"\n\n➡️ {status.hint_words()}"
    if status.state in ("failed", "interrupted") and log:
        tail = "\n".join(log.splitlines()[-12:])
        words += "\n\n" + text("train.log_tail", tail=tail)
    return words


def queue_markdown(running: list[str], queued: list[str]) -> str:
    """The machine's job line-up: what trains now and what waits, in order."""
    if not running and not queued:
        return text("train.queue.idle")
    lines = [text("train.queue.now", runs=", ".join(f"`{r}`" for r in running) or text("train.queue.nothing"))]
    if queued:
        lines.append(text("train.queue.queued", runs=" → ".join(f"{n}. `{r}`" for n, r in enumerate(queued, 1))))
    return "  \n".join(lines)


def run_label(paths: RunPaths) -> str:
    return f"{paths.run_id} · {status_words(read_status(paths).state)}"
