"""Tiny TrainerCallbacks: metrics rows to metrics.jsonl, and the STOP file."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from transformers import TrainerCallback

from lora_studio.metrics import MetricRow, append_row


class MetricsCallback(TrainerCallback):
    """Turns the Trainer's own log events into MetricRows; adds no work to the training step."""

    def __init__(self, metrics_path: Path, on_row: Callable[[MetricRow], None] | None = None) -> None:
        self.metrics_path = Path(metrics_path)
        self.on_row = on_row
        self.started = time.time()
        self.start_step = 0
        self.last = (time.time(), 0.0)  # (time, tokens) at the previous log row

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.time()
        self.start_step = state.global_step  # non-zero when resuming
        self.last = (self.started, float(state.num_input_tokens_seen or 0))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        now = time.time()
        if "loss" in logs:
            row = self._row("log", state, logs, now)
        elif "eval_loss" in logs:
            row = MetricRow("eval", state.global_step, state.max_steps, epoch=logs.get("epoch", state.epoch),
                            eval_loss=logs["eval_loss"], elapsed_s=now - self.started, time=now,
                            eta_s=self._eta(state, now))
        else:
            return  # the end-of-training summary carries no new point
        append_row(self.metrics_path, row)
        if self.on_row:
            self.on_row(row)

    def _row(self, event: str, state, logs: dict, now: float) -> MetricRow:
        # TRL logs num_tokens (non-padding tokens, summed over processes); plain Trainer may not.
        tokens = logs.get("num_tokens", state.num_input_tokens_seen) or None
        speed = None
        if tokens is not None and now > self.last[0]:
            speed = (float(tokens) - self.last[1]) / (now - self.last[0])
            self.last = (now, float(tokens))
        return MetricRow(event, state.global_step, state.max_steps, epoch=logs.get("epoch", state.epoch),
                         loss=logs.get("loss"), learning_rate=logs.get("learning_rate"),
                         grad_norm=logs.get("grad_norm"), tokens_seen=int(tokens) if tokens else None,
                         tokens_per_sec=speed, elapsed_s=now - self.started, eta_s=self._eta(state, now), time=now)

    def _eta(self, state, now: float) -> float | None:
        done = state.global_step - self.start_step
        if done <= 0:
            return None
        return (now - self.started) / done * max(state.max_steps - state.global_step, 0)


class StopFileCallback(TrainerCallback):
    """A STOP file in the run directory ends training at the next step boundary, with a save."""

    def __init__(self, stop_path: Path) -> None:
        self.stop_path = Path(stop_path)
        self.stopped = False

    def on_step_end(self, args, state, control, **kwargs):
        if self.stop_path.exists():
            self.stopped = True
            control.should_save = True
            control.should_training_stop = True
        return control
