"""Writing one answer: the streamer that is also the stop button, and the one thread every torch call of the
Playground runs on. The answer's settings are declared in core (lora_studio.generation_config).

Why one thread: the CPU build of torch uses OpenMP (libgomp), which keeps a team of threads for every
thread that has run a parallel operation; once the teams of the process outnumber the cores, libgomp
stops letting its idle threads spin and every operation pays for waking them. A base loaded in one
request thread and answers written in fresh threads generated 0.6x as fast as a plain
`model.generate` (bench/playground_generate.py); on one thread they match.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import cast

import torch
from transformers import StoppingCriteria, TextIteratorStreamer

from lora_studio.errors import StudioError
from lora_studio.generation_config import GenerationSettings
from lora_studio.messages import text

__all__ = [
    "TORCH_THREAD",
    "Generation",
    "GenerationSettings",  # declared in core
    "explain",
    "on_torch_thread",
    "submit_to_torch_thread",
]

TORCH_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lora-studio-torch")


def submit_to_torch_thread(fn: Callable, *args, **kwargs) -> Future:
    """fn(*args, **kwargs) on the one torch thread, without waiting. It runs in a copy of the caller's context, so
    the messages it raises are in the language of the page whose event started it (messages.speaking)."""
    return TORCH_THREAD.submit(contextvars.copy_context().run, fn, *args, **kwargs)


def on_torch_thread(fn: Callable, *args, **kwargs):
    """fn(*args, **kwargs) on the one torch thread, waiting for its result."""
    if threading.current_thread().name.startswith("lora-studio-torch"):
        return fn(*args, **kwargs)
    return submit_to_torch_thread(fn, *args, **kwargs).result()


class Generation(TextIteratorStreamer, StoppingCriteria):
    """An answer being written in a background thread: iterate for text pieces as they come. It is both the
    streamer and the stopping criterion of its `generate` call, so `stop()` ends it at the next token."""

    def __init__(self, tokenizer) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.stopped = False  # the user pressed Stop (an abandoned stream also ends, but is not "stopped")
        self.tokens = 0  # new tokens, for tokens/s
        self._prompt_seen = False
        self.started = time.perf_counter()
        self.finished: float | None = None

    def put(self, value) -> None:
        if self._prompt_seen:
            self.tokens += int(value.numel())
        self._prompt_seen = True
        super().put(value)

    def __iter__(self) -> Iterator[str]:
        try:
            while (piece := self.text_queue.get()) is not self.stop_signal:
                yield piece
        finally:
            self.stop_event.set()  # a consumer that went away ends the generation early
        if self.error is not None:
            raise self.error

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        stop = torch.full((input_ids.shape[0],), self.stop_event.is_set(), dtype=torch.bool, device=input_ids.device)
        return cast(torch.BoolTensor, stop)  # transformers' annotation: a bool tensor, typed as the legacy class

    def stop(self) -> None:
        self.stopped = True
        self.stop_event.set()

    def tokens_per_s(self) -> float:
        elapsed = (self.finished or time.perf_counter()) - self.started
        return self.tokens / elapsed if elapsed > 0 else 0.0


def explain(exc: BaseException) -> BaseException:
    if isinstance(exc, StudioError):
        return exc
    if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
        return StudioError(text("engine.answer_oom"), text("engine.answer_oom_hint"), kind="out_of_memory")
    return StudioError(
        text("engine.generation_failed", error=f"{type(exc).__name__}: {exc}").splitlines()[0],
        text("engine.generation_failed_hint"),
    )
