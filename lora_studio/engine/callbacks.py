"""Tiny TrainerCallbacks: metrics rows to metrics.jsonl, the STOP file, and sample answers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import TrainerCallback

from lora_studio.config import RunConfig
from lora_studio.dataset_rows import LoadedData
from lora_studio.engine import distributed
from lora_studio.generation_config import GenerationSettings
from lora_studio.metrics import PREFERENCE_LOGS, MetricRow, append_row
from lora_studio.runs import RunPaths
from lora_studio.sample_answers import SampleRow, append_sample, default_prompts, sampled_steps

log = logging.getLogger(__name__)


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

    def exclude(self, seconds: float) -> None:
        """`seconds` just spent on something else than training (the starting point's sample answers): speed,
        elapsed time and ETA do not count them."""
        self.started += seconds
        self.last = (self.last[0] + seconds, self.last[1])

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        now = time.time()
        if "loss" in logs:
            row = self._row("log", state, logs, now)
        elif "eval_loss" in logs:
            row = MetricRow(
                "eval",
                state.global_step,
                state.max_steps,
                epoch=logs.get("epoch", state.epoch),
                eval_loss=logs["eval_loss"],
                eval_reward_accuracy=logs.get("eval_rewards/accuracies"),
                elapsed_s=now - self.started,
                time=now,
                eta_s=self._eta(state, now),
            )
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
        return MetricRow(
            event,
            state.global_step,
            state.max_steps,
            epoch=logs.get("epoch", state.epoch),
            loss=logs.get("loss"),
            learning_rate=logs.get("learning_rate"),
            grad_norm=logs.get("grad_norm"),
            tokens_seen=int(tokens) if tokens else None,
            tokens_per_sec=speed,
            elapsed_s=now - self.started,
            eta_s=self._eta(state, now),
            time=now,
            **{field: logs[name] for name, field in PREFERENCE_LOGS.items() if name in logs},
        )

    def _eta(self, state, now: float) -> float | None:
        done = state.global_step - self.start_step
        if done <= 0:
            return None
        return (now - self.started) / done * max(state.max_steps - state.global_step, 0)


class StopNow(Exception):
    """Raised inside the step in progress when a person asks to stop: the step is dropped, the weights are still
    those of the last finished step, and train() saves them with the optimizer state (StopFileCallback.interrupt)."""


class StopFileCallback(TrainerCallback):
    """A STOP file in the run directory ends training with a save.

    With one process, the step in progress is cut short (`interrupt`): a thread watches for the file and hooks on
    the trainable layers' forward passes and on their gradients raise StopNow at the next layer. Nothing of the
    step is kept: the optimizer has not stepped, so the weights are the last finished step's, and Resume trains
    the dropped batch again. So Stop saves within one step whatever the step's length. The first step is never cut
    (there would be nothing to save). Compiled runs are not cut (hooks inside a compiled graph would break it).

    With several processes the step in progress ends first: rank 0 reads the file at the step boundary and every
    rank learns its answer through one all-reduce, so all stop at the same step: a rank that stopped alone would
    leave the others waiting in the next gradient sync forever."""

    WATCH_S = 0.1  # how often the watcher looks for the file while a step runs

    def __init__(self, stop_path: Path) -> None:
        self.stop_path = Path(stop_path)
        self.stopped = False
        self._handles: list = []
        self._state = None
        self._done = threading.Event()

    def on_train_begin(self, args, state, control, **kwargs):
        self._state = state  # the Trainer makes a new state when training begins: its step counts here

    def on_step_end(self, args, state, control, **kwargs):
        if self.stopped or distributed.any_rank(state.is_world_process_zero and self.stop_path.exists()):
            self.stopped = True
            control.should_save = True
            control.should_training_stop = True
        return control

    @contextmanager
    def interrupt(self, model) -> Iterator[None]:
        """While training: cut the step in progress when the file appears (one process, not compiled)."""
        if distributed.world_size() > 1:
            yield
            return
        self._done = threading.Event()
        threading.Thread(target=self._watch, name="stop-watch", daemon=True).start()
        for module in model.modules():
            if any(p.requires_grad for p in module.parameters(recurse=False)):
                self._handles.append(module.register_forward_pre_hook(self._check))
                for param in module.parameters(recurse=False):
                    if param.requires_grad:
                        self._handles.append(param.register_post_accumulate_grad_hook(self._check))
        try:
            yield
        finally:
            self._done.set()
            for handle in self._handles:
                handle.remove()
            self._handles.clear()

    def _watch(self) -> None:
        while not self._done.wait(self.WATCH_S):
            if self.stop_path.exists():
                self.stopped = True
                return

    def _check(self, *_args) -> None:
        if self.stopped and self._state is not None and self._state.global_step >= 1:
            raise StopNow


def save_stopped(trainer) -> None:
    """After Stop cut a step short: the checkpoint of the last finished step (weights, optimizer, scheduler, random
    states, trainer state), as the Trainer writes at a save step, so that Resume goes on from there. transformers
    has no public call for it; `_save_checkpoint` is the one its own loop uses."""
    if trainer.optimizer is not None:
        trainer.optimizer.zero_grad(set_to_none=True)  # the dropped step's partial gradients
    log.info("Stopped during step %d: saving step %d", trainer.state.global_step + 1, trainer.state.global_step)
    trainer._save_checkpoint(trainer.model_wrapped, trial=None)
    # What the end of training does for the logging tools (TensorBoard flushes, W&B and Trackio finish their run);
    # the sample answers skip a stopped run.
    trainer.control = trainer.callback_handler.on_train_end(trainer.args, trainer.state, trainer.control)


class SampleGenerationCallback(TrainerCallback):
    """The model's answers to a few fixed prompts before training, at every save and at the end.

    Greedy, so answers at different steps differ only because the weights did. Nothing runs per
    step; a failed generation is logged and training goes on.

    The answers of the starting point (step 0, or the step a run resumes from) are written after the first
    logged step, not before it: a person watching sees the first loss point first. They are still the starting
    point's: the trainable weights are kept as they were when training began and put back for those answers.
    The time they take is reported to `on_pause`, so that speed and ETA do not count it.

    When a person stops the run (`stopping()` is true), nothing more is answered: Stop saves within the step.
    """

    def __init__(
        self,
        samples_path: Path,
        tokenizer,
        prompts: list[str],
        settings: GenerationSettings,
        chat_template: str | None,
        on_pause: Callable[[float], None] | None = None,
        stopping: Callable[[], bool] | None = None,
    ) -> None:
        self.samples_path = Path(samples_path)
        self.stopping = stopping or (lambda: False)
        self.tokenizer = tokenizer
        self.prompts = list(prompts)
        self.settings = settings
        # The model's own template: the tokenizer may carry the training copy with loss markers.
        self.chat_template = chat_template
        self.on_pause = on_pause
        self.last_step: int | None = None
        # The starting point, until its answers are written: its step and its trainable weights.
        self.start: tuple[int, dict[str, torch.Tensor]] | None = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero:
            return
        if state.global_step in sampled_steps(self.samples_path):
            self.last_step = state.global_step  # a resumed run already has answers for this step
            return
        trainable = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
        self.start = (state.global_step, trainable)

    def on_log(self, args, state, control, model=None, **kwargs):
        # After the metrics callback has written the point (it comes first in the list).
        if state.is_world_process_zero and not self.stopping():
            self._answer_the_start(model)

    def on_save(self, args, state, control, model=None, **kwargs):
        self._answer_now(state, model)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self._answer_now(state, model)

    def _answer_now(self, state, model) -> None:
        """At a save and at the end: the starting point's answers if still owed, then this step's."""
        if not state.is_world_process_zero or self.stopping():
            return
        self._answer_the_start(model)
        if self.last_step != state.global_step:
            self.generate(model, state.global_step)

    @torch.no_grad()
    def _answer_the_start(self, model) -> None:
        """The starting point's answers, once: its trainable weights swapped in, then the current ones back."""
        if self.start is None:
            return
        (step, kept), self.start = self.start, None
        started = time.time()
        params = {name: p for name, p in model.named_parameters() if name in kept}
        now = {name: p.detach().clone() for name, p in params.items()}
        try:
            for name, p in params.items():
                p.copy_(kept[name])
            last = self.last_step
            self.generate(model, step)
            self.last_step = last  # what was answered last in training order stays the later step
        finally:
            for name, p in params.items():
                p.copy_(now[name])
            if self.on_pause:
                self.on_pause(time.time() - started)

    def generate(self, model, step: int) -> None:
        """Answer every prompt at `step` and append the rows; failures are logged, never raised."""
        self.last_step = step
        was_training = model.training
        model.eval()  # no dropout, and no gradient checkpointing (it only acts in train mode)
        try:
            for prompt in self.prompts:
                started = time.time()
                output = self._answer(model, prompt)
                now = time.time()
                append_sample(self.samples_path, SampleRow(step, prompt, output, now, round(now - started, 3)))
                log.info("sample @ step %d (%.1f s): %s -> %s", step, now - started, _short(prompt), _short(output))
        except StopNow:
            raise  # Stop was pressed while answering: the run saves now, the answers wait for Resume
        except Exception as exc:  # noqa: BLE001 - a sample must never end a training run
            log.warning("Sample generation at step %d failed, training goes on (%s: %s)", step, type(exc).__name__, exc)
        finally:
            model.train(was_training)

    @torch.no_grad()
    def _answer(self, model, prompt: str) -> str:
        tok = self.tokenizer
        if self.chat_template:
            text = tok.apply_chat_template(
                [{"role": "user", "content": prompt}],
                chat_template=self.chat_template,
                tokenize=False,
                add_generation_prompt=True,
            )
            batch = tok(text, return_tensors="pt", add_special_tokens=False)  # the template has its own BOS
        else:
            batch = tok(prompt, return_tensors="pt")
        device = next(model.parameters()).device
        input_ids, attention_mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        # use_cache explicitly: training with gradient checkpointing turns it off in the model config.
        out = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            **self.settings.generate_kwargs(),
            use_cache=True,
            pad_token_id=tok.pad_token_id,
        )
        # Kept as generated (leading newlines included): the reader decides how to trim for display.
        return tok.decode(out[0, input_ids.shape[1] :], skip_special_tokens=True)


def sample_callbacks(
    cfg: RunConfig,
    data: LoadedData,
    paths: RunPaths,
    tokenizer,
    chat_template: str | None,
    on_pause: Callable[[float], None] | None = None,
    stopping: Callable[[], bool] | None = None,
) -> list[TrainerCallback]:
    """The sample callback for a run, or none when samples are off or the data offers no prompt."""
    t = cfg.training
    if not t.sample_every_save:
        return []
    prompts = list(t.sample_prompts) or default_prompts(data, 2, cfg.data.eval_fraction, int(t.seed))
    if not prompts:
        log.warning("No prompt for sample answers: the data has no user turn or prompt to borrow")
        return []
    # Plain text trains continuation, not chat: its samples continue the raw prompt.
    template = chat_template if data.format != "text" else None
    settings = GenerationSettings.greedy(t.sample_max_new_tokens)
    return [SampleGenerationCallback(paths.samples, tokenizer, prompts, settings, template, on_pause, stopping)]


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
