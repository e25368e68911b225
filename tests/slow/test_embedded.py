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
    the last logged loss is below the first. 10 of its 50 steps: the whole preset's time is measured
    in bench/train_throughput.py, not here."""
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
            "--set",
            "training.max_steps=10",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [r for r in read_all(RunPaths(run_dir).metrics) if r.event == "log"]
    assert rows[-1].step == rows[-1].max_steps == 10
    assert rows[-1].loss < rows[0].loss

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "adapter")
    base = AutoModelForCausalLM.from_pretrained(embedded_dir)
    base_logits = logits(base, tokenizer)
    tuned = PeftModel.from_pretrained(base, run_dir / "adapter")
    assert (logits(tuned, tokenizer) - base_logits).abs().max() > 1e-2


def test_dpo_on_the_shipped_pairs_prefers_the_chosen_answers_more_than_the_base(tmp_path, embedded_dir):
    """The preference-dpo preset on the embedded model: on the held-out pairs, the adapter finds the chosen answer
    more likely than the rejected one more often than the base does (scored by the Evaluate tab's worker; answers
    of one token, as only the likelihoods count here)."""
    import dataclasses

    from lora_studio.adapters import run_adapter
    from lora_studio.config import apply_overrides
    from lora_studio.engine.eval_worker import run_evaluation
    from lora_studio.engine.train import train
    from lora_studio.eval_report import read_summary
    from lora_studio.evaluation import PREFERENCE_METRIC, begin, eval_root, models_for, split_rows, write_spec
    from lora_studio.generation_config import GenerationSettings
    from lora_studio.presets import load_preset
    from lora_studio.runs import create_run, update_status
    from lora_studio.settings import SAMPLES_DIR

    cfg = apply_overrides(
        load_preset("preference-dpo"),
        [
            f"data.path={SAMPLES_DIR / 'preference-pairs.jsonl'}",
            "training.max_steps=6",
            "training.batch_size=2",
            "training.gradient_accumulation=1",
            "training.learning_rate=0.0002",
            "training.warmup_ratio=0",
            "training.sample_max_new_tokens=1",
        ],
    )
    paths = RunPaths(tmp_path / "dpo")
    create_run(paths, cfg)
    result = train(cfg, paths)
    update_status(paths, state=result.state, step=result.step, max_steps=result.max_steps)
    rows = [r for r in read_all(paths.metrics) if r.event == "log"]
    assert rows[-1].reward_margin > rows[0].reward_margin
    result.model = None

    held_out = split_rows(paths)
    assert len(held_out.rows) == 16 and all(r.rejected for r in held_out.rows)
    models = models_for(cfg.model.name_or_path, True, [run_adapter(paths)])
    folder = write_spec(eval_root(paths), dataclasses.asdict(cfg.model), models, held_out, GenerationSettings.greedy(1))
    begin(folder)
    assert run_evaluation(folder / "spec.json") == 0
    done = next(p for p in eval_root(paths).iterdir() if p.is_dir() and not p.name.startswith("."))
    scores = read_summary(done)["models"]
    base, tuned = scores["base"][PREFERENCE_METRIC], scores[paths.run_id][PREFERENCE_METRIC]
    assert tuned > base, (base, tuned)
