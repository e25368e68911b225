"""The web server's one door to the torch engine: imported lazily, used under one lock.

The dashboard must start without torch (fast start, and the layering rule), so the few handlers
that need the engine (token preview, pre-flight) import it on first use. transformers resolves
its lazy attributes on first access without a lock, and two events at page load can hit that at
once (seen as "cannot import name ... from transformers"). One lock around every engine use
makes that impossible; these calls are short, so serialising them costs little.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

log = logging.getLogger(__name__)
_LOCK = threading.RLock()
WARM_MODULES = ("preview", "preflight", "inference")


@contextmanager
def engine(name: str) -> Iterator[ModuleType]:
    """`with engine("preview") as preview:` — lora_studio.engine.<name>, held under the engine lock."""
    with _LOCK:
        yield importlib.import_module(f"lora_studio.engine.{name}")


def warm_up() -> threading.Thread:
    """Import the engine in the background at server start, so the first click does not wait for torch."""

    def run() -> None:
        for name in WARM_MODULES:
            with engine(name):
                pass
        log.info("Engine loaded")

    thread = threading.Thread(target=run, name="lora-studio-warm-up", daemon=True)
    thread.start()
    return thread
