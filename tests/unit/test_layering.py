"""The architecture's import rules, checked in fresh interpreters (one per group of modules).

The modules are found by walking the package, so a new module is checked the day it is added:
- core (everything outside lora_studio.ui and lora_studio.engine) imports neither the torch stack nor gradio;
- lora_studio.engine imports no gradio and neither the UI nor the job manager;
- lora_studio.ui imports no torch stack at module level (the Playground loads it lazily);
- two modules of those packages stay light as well: the worker's entry (its heavy imports are inside)
  and the UI's `*_view` modules (pure functions behind the tabs, no gradio).
Lazy imports inside functions are allowed: these tests import modules, they never call them.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import lora_studio

TORCH_STACK = {"torch", "transformers", "peft", "trl"}
GRADIO = {"gradio"}


def package_modules(path: Path = Path(lora_studio.__path__[0]), prefix: str = "lora_studio.") -> list[str]:
    """Every module of the package, found on disk without importing any (pkgutil.walk_packages would import
    each subpackage's __init__, and with it gradio, into this process)."""
    found = []
    for info in pkgutil.iter_modules([str(path)], prefix):
        found.append(info.name)
        if info.ispkg:
            found += package_modules(path / info.name.rsplit(".", 1)[-1], info.name + ".")
    return sorted(found)


def within(package: str, modules: list[str]) -> list[str]:
    return [m for m in modules if m == package or m.startswith(package + ".")]


MODULES = package_modules()
ENGINE = within("lora_studio.engine", MODULES)
UI = within("lora_studio.ui", MODULES)
CORE = [m for m in MODULES if m not in ENGINE and m not in UI]
LIGHT = ["lora_studio.engine.worker"] + [m for m in UI if m.endswith("_view")]


def imported_after(modules: list[str]) -> set[str]:
    """Every module (full dotted names) loaded by importing `modules` in a fresh interpreter."""
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code, *modules], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return set(out.stdout.split())


def top_level(loaded: set[str]) -> set[str]:
    return {m.split(".")[0] for m in loaded}


def test_the_walk_finds_every_layer():
    assert {"lora_studio.__main__", "lora_studio.config", "lora_studio.presets", "lora_studio.settings"} <= set(CORE)
    assert {"lora_studio.engine.train", "lora_studio.engine.worker", "lora_studio.engine.merge"} <= set(ENGINE)
    assert {"lora_studio.ui.app", "lora_studio.ui.config_view", "lora_studio.ui.train_view"} <= set(UI)
    assert len(MODULES) == len(set(MODULES)) and len(CORE) > 15 and len(ENGINE) > 10 and len(UI) > 15


def test_core_modules_import_neither_torch_nor_gradio():
    loaded = imported_after(CORE + LIGHT)
    assert not top_level(loaded) & (TORCH_STACK | GRADIO)


def test_engine_does_not_import_gradio_the_ui_or_the_job_manager():
    loaded = imported_after(ENGINE)
    assert "torch" in top_level(loaded) and not top_level(loaded) & GRADIO
    assert not within("lora_studio.ui", sorted(loaded)) and "lora_studio.jobs" not in loaded


def test_the_dashboard_does_not_import_torch():
    loaded = imported_after(UI)
    assert "gradio" in top_level(loaded) and not top_level(loaded) & TORCH_STACK
