"""The training methods in core: what the estimates count for each, the speed cache's key, starting from an
earlier run's adapter, the preference chart and progress line, and the model card's method line."""

from __future__ import annotations

import pytest

from lora_studio import calibration, settings
from lora_studio.adapters import start_adapter
from lora_studio.config import RunConfig, apply_overrides
from lora_studio.errors import ConfigError
from lora_studio.estimates import ModelFacts, effective_flops, estimate_memory, rough_sec_per_step
from lora_studio.metrics import MetricRow, format_progress
from lora_studio.modelcard import method_line
from lora_studio.ui.charts import has_preference_points, preference_figure
from tests.unit.test_adapters import adapter_folder
from tests.unit.test_runs_view import make_run

FACTS = ModelFacts(
    model="m",
    trainable_params=1_000_000,
    all_params=101_000_000,
    base_params=100_000_000,
    quantizable_params=80_000_000,
    hidden_size=512,
    num_layers=12,
    vocab_size=32_000,
    device="cpu",
    dtype_bytes=4,
    device_memory=None,
    assumed_flops=1e11,
)


def cfg(*overrides: str) -> RunConfig:
    return apply_overrides(RunConfig(), list(overrides))


def test_a_4bit_base_takes_about_half_the_memory_of_8bit():
    full, eight, four = (
        estimate_memory(cfg(*o), FACTS).weights
        for o in ((), ("model.load_in_8bit=true",), ("model.load_in_4bit=true",))
    )
    adapter_and_rest = FACTS.trainable_params * 4 + 20_000_000 * 4
    assert eight - adapter_and_rest == 80_000_000
    assert 40_000_000 < four - adapter_and_rest < 41_500_000  # half a byte per weight plus the nf4 scales
    assert four < eight < full


def test_preference_methods_count_two_sequences_and_dpo_its_reference_pass():
    sft = estimate_memory(cfg(), FACTS).activations
    assert estimate_memory(cfg("training.method=orpo"), FACTS).activations == 2 * sft
    base = rough_sec_per_step(cfg(), FACTS, 100)
    assert rough_sec_per_step(cfg("training.method=orpo"), FACTS, 100) == pytest.approx(2 * base)
    assert rough_sec_per_step(cfg("training.method=dpo"), FACTS, 100) == pytest.approx(2 * base * 6 / 4)
    assert rough_sec_per_step(cfg("lora.use_dora=true"), FACTS, 100) > base


@pytest.mark.parametrize(
    "measured", [(), ("training.gradient_checkpointing=true",), ("training.method=dpo",), ("lora.use_dora=true",)]
)
def test_a_speed_measured_for_one_setting_sets_the_pace_of_the_rough_estimate_for_others(measured):
    """effective_flops is the rough model read backwards: with the FLOP/s one measured setting comes to, the rough
    time per step of that same setting is the measured one, and another setting's scales by its own work."""
    seen = cfg(*measured, "training.batch_size=4", "training.gradient_accumulation=2")
    tokens_per_step = 4 * 2 * 100 * (2 if "dpo" in str(measured) else 1)
    tokens_per_sec = 250.0
    flops = effective_flops(seen, FACTS.all_params, tokens_per_sec)
    paced = ModelFacts(**{**FACTS.__dict__, "assumed_flops": flops, "flops_runs": 1})
    assert rough_sec_per_step(seen, paced, 100) == pytest.approx(tokens_per_step / tokens_per_sec)
    plain = cfg("training.batch_size=4", "training.gradient_accumulation=2")
    ratio = rough_sec_per_step(plain, paced, 100) / rough_sec_per_step(seen, paced, 100)
    assert ratio == pytest.approx(rough_sec_per_step(plain, FACTS, 100) / rough_sec_per_step(seen, FACTS, 100))


def test_the_speed_cache_tells_methods_apart():
    keys = {
        calibration.key_for(cfg(*o), "cpu")
        for o in ((), ("training.method=dpo",), ("lora.use_dora=true",), ("model.load_in_4bit=true",))
    }
    assert len(keys) == 4


def test_start_from_names_a_finished_run_with_an_adapter_on_the_same_base(studio_home):
    root = settings.runs_dir()
    sft = make_run(root, "sft-run", overrides=["model.name_or_path=/models/tiny"])
    adapter_folder(sft.adapter)
    make_run(root, "running", state="running", overrides=["model.name_or_path=/models/tiny"])
    assert start_adapter(cfg("model.name_or_path=/models/tiny")) is None
    found = start_adapter(cfg("model.name_or_path=/models/tiny", "lora.start_from=sft-run"))
    assert found is not None and found.path == sft.adapter
    by_folder = start_adapter(cfg("model.name_or_path=/models/tiny", f"lora.start_from={sft.root}"))
    assert by_folder is not None and by_folder.run_id == "sft-run"
    with pytest.raises(ConfigError, match=r"lora\.start_from: There is no run 'nope'"):
        start_adapter(cfg("lora.start_from=nope"))
    with pytest.raises(ConfigError, match="has no adapter to try \\(running\\)"):
        start_adapter(cfg("model.name_or_path=/models/tiny", "lora.start_from=running"))
    with pytest.raises(ConfigError, match="trained its adapter on /models/tiny, not on /models/other") as caught:
        start_adapter(cfg("model.name_or_path=/models/other", "lora.start_from=sft-run"))
    assert "Pick the same base model" in caught.value.hint


def test_the_preference_chart_and_progress_line_show_what_dpo_learns():
    rows = [
        MetricRow(
            "log", 1, 4, loss=0.69, reward_chosen=0.0, reward_rejected=0.0, reward_margin=0.0, reward_accuracy=0.0
        ),
        MetricRow(
            "log", 2, 4, loss=0.6, reward_chosen=0.1, reward_rejected=-0.1, reward_margin=0.2, reward_accuracy=0.75
        ),
        MetricRow("eval", 2, 4, eval_loss=0.62, eval_reward_accuracy=0.5),
    ]
    assert has_preference_points(rows) and not has_preference_points([MetricRow("log", 1, 4, loss=1.0)])
    figure = preference_figure(rows)
    traces = {t.name: list(t.y) for t in figure.data}
    assert traces["margin (chosen minus rejected)"] == [0.0, 0.2]
    assert traces["chosen wins (share of pairs)"] == [0.0, 0.75]
    assert traces["chosen wins on held-out pairs"] == [0.5]
    assert "margin +0.2000 | chosen wins 75%" in format_progress(rows[1])
    assert "chosen wins 50%" in format_progress(rows[2])
    assert "margin" not in format_progress(MetricRow("log", 1, 4, loss=1.0))


def test_the_model_card_says_how_the_adapter_was_trained():
    assert method_line(cfg()) == "supervised fine-tuning (SFT); a new adapter"
    line = method_line(cfg("training.method=dpo", "lora.start_from=/runs/sft-run", "model.load_in_4bit=true"))
    assert (
        line
        == "DPO (beta 0.1, sigmoid loss); continued from the adapter of run sft-run; base held in 4-bit while training"
    )
