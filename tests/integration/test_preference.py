"""DPO, ORPO, starting from an earlier run's adapter, and the lighter/stronger adapters (4-bit, DoRA, LoRA+,
NEFTune), trained for real on the tiny random Llama."""

from __future__ import annotations

import json
import math

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from lora_studio import settings
from lora_studio.adapters import run_adapter
from lora_studio.config import RunConfig
from lora_studio.dataset_rows import load_dataset_file
from lora_studio.engine import merge
from lora_studio.engine.eval_worker import run_evaluation
from lora_studio.engine.inference import GenerationSettings, Playground
from lora_studio.engine.models import load_for_training
from lora_studio.engine.preference import StudioDPOTrainer
from lora_studio.engine.preview import Previewer
from lora_studio.engine.train import build_peft_model, common_args, make_sft_config, train
from lora_studio.eval_report import metric_table, read_rows, read_summary
from lora_studio.evaluation import PREFERENCE_METRIC, begin, eval_root, file_rows, models_for, write_spec
from lora_studio.metrics import read_all
from lora_studio.runs import RunPaths, update_status
from tests.conftest import write_jsonl
from tests.integration.helpers import new_run, tiny_config

PAIRS = settings.SAMPLES_DIR / "preference-pairs.jsonl"


@pytest.fixture
def pairs_file(tmp_path):
    """40 pairs of the shipped sample."""
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()[:40]]
    return write_jsonl(tmp_path / "pairs.jsonl", rows)


def finished(cfg: RunConfig, paths: RunPaths):
    result = train(cfg, paths)
    update_status(paths, state=result.state, step=result.step, max_steps=result.max_steps)
    return result


def lora_weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory, tiny_model_dir) -> RunPaths:
    """A finished DPO run on 40 pairs of the sample (10 steps), shared by the tests that read it."""
    folder = tmp_path_factory.mktemp("dpo")
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()[:40]]
    data = write_jsonl(folder / "pairs.jsonl", rows)
    cfg = tiny_config(tiny_model_dir, data, "training.method=dpo", "training.max_steps=10", "training.dpo_beta=0.5")
    paths = new_run(folder, cfg)
    finished(cfg, paths)
    return paths


def test_dpo_learns_the_pairs_and_saves_a_plain_peft_adapter(dpo_run, tiny_model_dir):
    paths = dpo_run
    rows = [r for r in read_all(paths.metrics) if r.event == "log"]
    assert rows[0].loss == pytest.approx(math.log(2), abs=1e-3)  # policy = reference (adapter off) at the start
    assert rows[0].reward_margin == pytest.approx(0.0, abs=1e-4)
    early = sum(r.reward_accuracy for r in rows[:3]) / 3
    late = sum(r.reward_accuracy for r in rows[-3:]) / 3
    assert late > early and rows[-1].reward_margin > 0.05 and rows[-1].loss < rows[0].loss
    assert rows[-1].tokens_seen > 0  # prompt twice plus both answers, as DPO trains them
    assert sorted(p.name for p in paths.adapter.iterdir() if p.is_dir()) == []  # no copy of a reference adapter
    # Plain peft loads it on the base, and it changes the model.
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(paths.adapter))
    ids = torch.tensor([[1, 2, 3, 4]])
    assert (tuned(ids).logits - base(ids).logits).abs().max() > 1e-4


def test_evaluate_on_pairs_says_how_often_the_chosen_answer_is_preferred(dpo_run, pairs_file, tiny_model_dir):
    rows = file_rows(pairs_file, limit=12)
    assert all(r.rejected and r.reference.endswith("🌱") for r in rows.rows)
    models = models_for(str(tiny_model_dir), True, [run_adapter(dpo_run)])
    folder = write_spec(
        eval_root(dpo_run), {"name_or_path": str(tiny_model_dir)}, models, rows, GenerationSettings.greedy(2)
    )
    begin(folder)
    assert run_evaluation(folder / "spec.json") == 0
    done = next(p for p in eval_root(dpo_run).iterdir() if p.is_dir() and not p.name.startswith("."))
    summary = read_summary(done)
    assert PREFERENCE_METRIC in summary["metrics"]
    # Per pair: 1 when the model finds the chosen answer more likely than the rejected one (the real model's
    # rise under DPO is tests/slow's); per model: the share of such pairs.
    rows_read = read_rows(done)
    for label in ("base", dpo_run.run_id):
        per_pair = [r["scores"][label][PREFERENCE_METRIC] for r in rows_read]
        assert set(per_pair) <= {0.0, 1.0} and len(per_pair) == 12
        assert summary["models"][label][PREFERENCE_METRIC] == pytest.approx(sum(per_pair) / 12)
    assert any(line[0] == PREFERENCE_METRIC for line in metric_table(summary))


def test_orpo_trains_on_pairs_and_logs_its_rewards(tmp_path, tiny_model_dir, pairs_file):
    cfg = tiny_config(
        tiny_model_dir,
        pairs_file,
        "training.method=orpo",
        "training.max_steps=4",
        "data.eval_fraction=0.2",
        "training.eval_steps=4",
    )
    paths = new_run(tmp_path, cfg)
    assert finished(cfg, paths).state == "completed"
    rows = read_all(paths.metrics)
    logs = [r for r in rows if r.event == "log"]
    assert all(math.isfinite(r.loss) and r.reward_accuracy is not None for r in logs)
    assert logs[-1].loss < logs[0].loss  # ORPO also learns the chosen answers: its loss holds their NLL
    assert [r.eval_reward_accuracy is not None for r in rows if r.event == "eval"] == [True]
    assert (paths.adapter / "adapter_model.safetensors").is_file()


def test_sft_then_dpo_continues_the_earlier_adapter(tmp_path, tiny_model_dir, chat_file, pairs_file, studio_home):
    runs = settings.runs_dir()
    sft_cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=3")
    sft = RunPaths(runs / "sft-run")
    sft.root.mkdir(parents=True)
    sft_cfg.save(sft.config)
    finished(sft_cfg, sft)
    start = lora_weights(sft.adapter)

    dpo_cfg = tiny_config(
        tiny_model_dir,
        pairs_file,
        "training.method=dpo",
        "training.max_steps=3",
        "lora.start_from=sft-run",
        "lora.r=16",  # ignored: the earlier adapter keeps its own size
    )
    # The starting point is the earlier adapter, weight for weight, and it trains.
    model, *_ = load_for_training(dpo_cfg.model)
    continued = build_peft_model(model, dpo_cfg, run_adapter("sft-run").path)
    state = {k.replace(".default", ""): v for k, v in continued.state_dict().items() if "lora_" in k}
    assert state.keys() == start.keys() and all(torch.equal(state[k], start[k]) for k in start)
    assert continued.get_nb_trainable_parameters()[0] == sum(t.numel() for t in start.values())

    dpo = new_run(tmp_path, dpo_cfg, "dpo-run")
    finished(dpo_cfg, dpo)
    first = next(r for r in read_all(dpo.metrics) if r.event == "log")
    assert first.loss == pytest.approx(math.log(2), abs=1e-3)  # the reference is the starting adapter, not the base
    after = lora_weights(dpo.adapter)
    assert after.keys() == start.keys() and any(not torch.equal(after[k], start[k]) for k in start)
    assert json.loads((dpo.adapter / "adapter_config.json").read_text())["r"] == 4
    # Merged on the original base, the result is verified like any other run.
    report = merge.merge_run(dpo, tmp_path / "merged", "float32")
    assert report["passed"]


def test_a_long_prompt_keeps_its_end_within_the_max_prompt_length(tiny_model_dir, pairs_file):
    cfg = tiny_config(tiny_model_dir, pairs_file, "training.method=dpo", "training.max_prompt_length=12")
    data = load_dataset_file(pairs_file)
    model, tokenizer, device, _ = load_for_training(cfg.model)
    preview = Previewer(data, str(tiny_model_dir))
    from datasets import Dataset

    from lora_studio.engine.dataset_build import to_trl_rows
    from lora_studio.runs import RunPaths as Paths

    trainer = StudioDPOTrainer(
        model=build_peft_model(model, cfg),
        args=_dpo_args(cfg, Paths(tiny_model_dir.parent / "unused"), device),
        train_dataset=Dataset.from_list(to_trl_rows(data, tokenizer)[:4]),
        processing_class=tokenizer,
        max_prompt_length=12,
    )
    for i, row in enumerate(trainer.train_dataset):
        prompt, chosen, rejected = preview.pair_ids(preview.rows[i])  # the Data tab splits pairs as DPO does
        assert len(prompt) > 12 and row["prompt_ids"] == prompt[-12:]
        assert row["chosen_ids"] == chosen and row["rejected_ids"] == rejected
    assert "ref" not in trainer.model.peft_config  # a fresh adapter: the reference is the adapter switched off


def _dpo_args(cfg, paths, device):
    from trl import DPOConfig

    return DPOConfig(**common_args(cfg, paths, device, False), max_length=int(cfg.data.max_length))


def test_a_4bit_dora_loraplus_run_trains_merges_and_chats(tmp_path, tiny_model_dir, chat_file):
    cfg = tiny_config(
        tiny_model_dir,
        chat_file,
        "model.load_in_4bit=true",
        "lora.use_dora=true",
        "lora.loraplus_lr_ratio=16",
        "training.max_steps=4",
    )
    paths = new_run(tmp_path, cfg)
    result = finished(cfg, paths)
    assert result.state == "completed"
    linear = result.model.base_model.model.model.layers[0].self_attn.q_proj
    assert type(linear.base_layer).__name__ == "Linear4bit" and linear.base_layer.weight.quant_type == "nf4"
    assert (
        "lora_magnitude_vector"
        in dict(result.model.named_modules())["base_model.model.model.layers.0.self_attn.q_proj"]._modules
    )
    adapter_config = json.loads((paths.adapter / "adapter_config.json").read_text())
    assert adapter_config["use_dora"] is True
    report = merge.merge_run(paths, tmp_path / "merged", "float32")
    assert report["passed"] and any("4-bit base" in n for n in report["notes"])
    merged = json.loads((tmp_path / "merged" / "config.json").read_text())
    assert "quantization_config" not in merged  # merged into full-precision weights, never into 4-bit ones
    playground = Playground()
    playground.load_base(str(tiny_model_dir))
    loaded = playground.load_adapter(run_adapter(paths))
    answer = playground.generate(loaded.key, [{"role": "user", "content": "Hi"}], GenerationSettings.greedy(4))
    assert isinstance(answer, str)


def test_loraplus_and_neftune_reach_the_trainer(tiny_model_dir, chat_file, tmp_path):
    from lora_studio.engine.train import loraplus_optimizer

    cfg = tiny_config(tiny_model_dir, chat_file, "lora.loraplus_lr_ratio=16", "training.neftune_noise_alpha=5")
    model, *_ = load_for_training(cfg.model)
    optimizer = loraplus_optimizer(build_peft_model(model, cfg), cfg)
    rates = sorted({group["lr"] for group in optimizer.param_groups if group["params"]})
    assert rates == [pytest.approx(0.005), pytest.approx(0.005 * 16)]
    assert make_sft_config(cfg, RunPaths(tmp_path / "r"), "cpu", False, True).neftune_noise_alpha == 5
    assert loraplus_optimizer(None, tiny_config(tiny_model_dir, chat_file)) is None
