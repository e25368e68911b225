"""Benchmark: what LORA_STUDIO_SERVER_NICE=10 buys and costs on a CPU-only machine, side by side with nice 0.

Run: .venv/bin/python bench/server_priority.py → rewrites its section of docs/BENCHMARKS.md (about 3 minutes).

Two questions, each measured with nothing else running, then with a competing process at nice 0 and at 10:
- training: quick-start steps of the embedded model (the worker, always nice 0) while a busy web server
  (a process burning half a core in 20 ms bursts) runs at the server's nice value;
- Playground: 64 greedy tokens on the server's torch thread (niced with the server) while another
  program at nice 0 (the user's own browser, modelled by the same half-core burner) runs beside it.
Median of 3 per case; each measurement runs in a fresh process.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_section

REPS = 3
BURNER = """
import time
while True:
    started = time.perf_counter()
    while time.perf_counter() - started < 0.01:
        pass
    time.sleep(0.01)
"""

TRAIN_STEPS = """
import sys, time, torch
sys.path.insert(0, {root!r})
from transformers import AutoModelForCausalLM
from lora_studio.presets import load_preset
from lora_studio.engine.models import ensure_embedded_model
from lora_studio.engine.train import build_peft_model
cfg = load_preset("quick-start")
model = build_peft_model(AutoModelForCausalLM.from_pretrained(ensure_embedded_model(), dtype=torch.float32), cfg)
model.train()
ids = torch.randint(0, 49000, (4, 60))
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
def step():
    model(input_ids=ids, labels=ids).loss.backward(); opt.step(); opt.zero_grad()
for _ in range(2):
    step()
started = time.perf_counter()
for _ in range(8):
    step()
print((time.perf_counter() - started) / 8)
"""

GENERATE = """
import os, sys, time
sys.path.insert(0, {root!r})
os.nice({nice})  # the whole server process, as LORA_STUDIO_SERVER_NICE lowers every thread serving pages
from lora_studio.engine.inference import GenerationSettings, Playground
playground = Playground()
playground.load_base("embedded")
settings = GenerationSettings(max_new_tokens=64, temperature=0)
prompt = [{{"role": "user", "content": "Write a long story about a robot who learns to garden."}}]
"".join(playground.stream("", prompt, GenerationSettings(max_new_tokens=4, temperature=0)))
started = time.perf_counter()
generation = playground.stream("", prompt, settings)
"".join(generation)
print(generation.tokens / (time.perf_counter() - started))
"""


def burner(nice: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", BURNER], preexec_fn=lambda: os.nice(nice))


def measure(code: str, competitor_nice: int | None) -> float:
    """Median over REPS fresh processes of what `code` prints, with a half-core burner at `competitor_nice`."""
    values = []
    for _ in range(REPS):
        other = burner(competitor_nice) if competitor_nice is not None else None
        try:
            time.sleep(0.2)
            out = subprocess.run(
                [sys.executable, "-c", code],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
                cwd=ROOT,
            )
            values.append(float(out.stdout.strip().splitlines()[-1]))
        finally:
            if other:
                other.kill()
                other.wait()
    return statistics.median(values)


def main() -> None:
    root = str(ROOT)
    train = TRAIN_STEPS.format(root=root)
    alone = measure(train, None)
    busy_equal = measure(train, 0)
    busy_niced = measure(train, 10)
    gen_alone = measure(GENERATE.format(root=root, nice=0), None)
    gen_equal = measure(GENERATE.format(root=root, nice=0), 0)
    gen_niced = measure(GENERATE.format(root=root, nice=10), 0)
    rows = [
        ("training step, nothing else running", f"{alone:.2f} s", "quick-start, 4 × 60 tokens, float32"),
        (
            "training step, busy server at nice 0 (the default)",
            f"{busy_equal:.2f} s",
            f"{busy_equal / alone:.2f}× the time alone",
        ),
        ("training step, busy server at nice 10", f"{busy_niced:.2f} s", f"{busy_niced / alone:.2f}× the time alone"),
        ("Playground tokens/s, nothing else running", f"{gen_alone:.1f}", "64 greedy tokens, base model"),
        (
            "Playground tokens/s, server at nice 0, another program beside it",
            f"{gen_equal:.1f}",
            f"{gen_equal / gen_alone:.2f}× alone",
        ),
        (
            "Playground tokens/s, server at nice 10, another program beside it",
            f"{gen_niced:.1f}",
            f"{gen_niced / gen_alone:.2f}× alone",
        ),
    ]
    print(
        write_section(
            "server-priority",
            "Server priority (LORA_STUDIO_SERVER_NICE): what it buys and costs",
            f".venv/bin/python bench/server_priority.py (median of {REPS}; the competitor burns half "
            "a core in 10 ms bursts)",
            rows,
        )
    )


if __name__ == "__main__":
    main()
