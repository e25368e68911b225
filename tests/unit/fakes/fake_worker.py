"""A stand-in for lora_studio.engine.worker: follows the same run-directory protocol in milliseconds.

Behaviour comes from fake.json in the run directory: steps, step_s, exit_code, ignore_term,
child (start a grandchild in the same process group), no_status (die without reporting),
startup_s (silent start, like the real worker importing torch), linger_s (alive after reporting),
term_fails (a SIGTERM makes it report 'failed', as a real worker whose import the signal broke).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from lora_studio.metrics import MetricRow, append_row
from lora_studio.runs import RunPaths, update_status

paths = RunPaths(sys.argv[1])
resume = "--resume" in sys.argv
opts = json.loads((paths.root / "fake.json").read_text()) if (paths.root / "fake.json").exists() else {}
time.sleep(opts.get("startup_s", 0.0))
if opts.get("ignore_term"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if opts.get("term_fails"):

    def _broken_import(signum, frame):
        update_status(
            paths,
            state="failed",
            phase="failed",
            finished=time.time(),
            error_kind="internal",
            error="RuntimeError: Failed to import trl.trainer.sft_config",
        )
        sys.exit(1)

    signal.signal(signal.SIGTERM, _broken_import)
if opts.get("child"):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (paths.root / "child.pid").write_text(str(child.pid))
(paths.root / "attempts.txt").open("a").write(f"{'resume' if resume else 'fresh'}\n")
if opts.get("no_status"):
    time.sleep(opts.get("step_s", 0.0))
    sys.exit(opts.get("exit_code", 3))
update_status(paths, state="running", pid=os.getpid(), phase="training")
steps = opts.get("steps", 5)
start = 3 if resume else 0
for step in range(start + 1, steps + 1):
    time.sleep(opts.get("step_s", 0.05))
    append_row(paths.metrics, MetricRow("log", step, steps, loss=2.0 / step, time=time.time()))
    update_status(paths, step=step, max_steps=steps)
    if step == 3:  # what a Trainer save leaves (lora_studio.runs.CHECKPOINT_FILES), trainer_state.json last
        checkpoint = paths.checkpoints / "checkpoint-3"
        checkpoint.mkdir(parents=True, exist_ok=True)
        for name in ("adapter_config.json", "adapter_model.safetensors", "trainer_state.json"):
            (checkpoint / name).write_text("{}")
    if paths.stop.exists():
        update_status(paths, state="stopped", phase="stopped", finished=time.time())
        sys.exit(0)
code = opts.get("exit_code", 0)
update_status(paths, state="completed" if code == 0 else "failed", phase="done", finished=time.time())
time.sleep(opts.get("linger_s", 0.0))
sys.exit(code)
