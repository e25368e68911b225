"""The real embedded SmolLM2-135M-Instruct: preparation, a short run, and the quick-start promise."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from lora_studio.engine.models import ensure_embedded_model
from lora_studio.metrics import read_all
from lora_studio.runs import RunPaths
from tests.conftest import ROOT, SAMPLE_CHAT
from tests.integration.helpers import logits

pytestmark = pytest.mark.slow


def test_prepared_model_is_reused_and_loads_quickly(embedded_dir):
    started = time.time()
    assert ensure_embedded_model() == embedded_dir  # no second conversion
    model = AutoModelForCausalLM.from_pretrained(embedded_dir)
    assert time.time() - started < 30  # generous: the promise (< 2 s) is measured in bench/
    assert model.config.model_type == "llama" and model.num_parameters() > 100_000_000


def test_cli_quick_start_on_200_chat_rows(tmp_path, embedded_dir):
    """The spine's acceptance: quick-start on the embedded model leaves a loadable adapter and
    the last logged loss is below the first."""
    run_dir = tmp_path / "quick"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lora_studio",
            "train",
            "--preset",
            "quick-start",
            "--data",
            str(SAMPLE_CHAT),
            "--run-dir",
            str(run_dir),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [r for r in read_all(RunPaths(run_dir).metrics) if r.event == "log"]
    assert rows[-1].step == rows[-1].max_steps == 50
    assert rows[-1].loss < rows[0].loss

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "adapter")
    base = AutoModelForCausalLM.from_pretrained(embedded_dir)
    base_logits = logits(base, tokenizer)
    tuned = PeftModel.from_pretrained(base, run_dir / "adapter")
    assert (logits(tuned, tokenizer) - base_logits).abs().max() > 1e-2
