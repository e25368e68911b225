"""Benchmark: embedded model preparation and later loads (the spine's "later loads < 2 s").

Run: .venv/bin/python bench/model_load.py   → prints a table and rewrites its section of
docs/BENCHMARKS.md. Conversion is measured into a temporary cache (once: it takes ~20 s);
loads are the median of 3 fresh processes against the real cache.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_section

LOAD_SNIPPET = """
import time, sys
t0 = time.perf_counter()
from lora_studio.engine.models import ensure_embedded_model, load_tokenizer
from transformers import AutoModelForCausalLM
t1 = time.perf_counter()
path = ensure_embedded_model()
tok = load_tokenizer(str(path))
model = AutoModelForCausalLM.from_pretrained(path)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""


def run_py(code: str, env: dict | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )
    lines = out.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        run_py(
            "from lora_studio.engine.models import ensure_embedded_model; ensure_embedded_model()",
            {"LORA_STUDIO_MODEL_CACHE": cache},
        )
        convert_s = time.perf_counter() - started
    run_py("from lora_studio.engine.models import ensure_embedded_model; ensure_embedded_model()")  # warm cache
    imports, loads = [], []
    for _ in range(3):
        a, b = run_py(LOAD_SNIPPET).split()
        imports.append(float(a))
        loads.append(float(b))
    rows = [
        ("first preparation (GGUF → safetensors, new process)", f"{convert_s:.1f} s", "once per machine"),
        ("later load: tokenizer + model from the cache", f"{statistics.median(loads):.2f} s", "target < 2 s"),
        ("imports of torch/transformers before that", f"{statistics.median(imports):.2f} s", "not part of the load"),
    ]
    print(
        write_section(
            "model_load",
            "Embedded model: preparation and load",
            ".venv/bin/python bench/model_load.py (loads: median of 3 fresh processes)",
            rows,
        )
    )


if __name__ == "__main__":
    main()
