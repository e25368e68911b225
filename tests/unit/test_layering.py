"""The architecture's import rules, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "lora_studio.config",
    "lora_studio.presets",
    "lora_studio.dataset_rows",
    "lora_studio.runs",
    "lora_studio.metrics",
    "lora_studio.settings",
    "lora_studio.modelref",
    "lora_studio.errors",
    "lora_studio.__main__",
    "lora_studio.engine.worker",
    "lora_studio.dataset_files",
    "lora_studio.dataset_sources",
    "lora_studio.jobs",
    "lora_studio.sample_answers",
    "lora_studio.calibration",
    "lora_studio.ui.config_view",
    "lora_studio.ui.preflight_view",
    "lora_studio.launch",
    "lora_studio.processes",
    "lora_studio.logs",
    "lora_studio.ui.train_view",
    "lora_studio.ui.runs_view",
    "lora_studio.adapters",
    "lora_studio.ui.playground_view",
    "lora_studio.exports",
    "lora_studio.modelcard",
    "lora_studio.ui.export_view",
]


def imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_modules_import_neither_torch_nor_gradio():
    loaded = imported_after(", ".join(CORE))
    assert not loaded & {"torch", "transformers", "peft", "trl", "gradio"}


def test_engine_does_not_import_gradio():
    loaded = imported_after(
        "lora_studio.engine.train, lora_studio.engine.calibrate, lora_studio.engine.preflight, "
        "lora_studio.engine.inference, lora_studio.engine.merge, lora_studio.engine.export_worker"
    )
    assert "torch" in loaded and "gradio" not in loaded


def test_the_dashboard_does_not_import_torch():
    loaded = imported_after("lora_studio.ui.app")
    assert "gradio" in loaded and not loaded & {"torch", "transformers", "peft", "trl"}
