"""Config tab logic without gradio or torch: widget specs from metadata, values, issues, estimates."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from lora_studio import declarations, settings
from lora_studio.calibration import Calibration
from lora_studio.config import SECTIONS, ConfigIssue, RunConfig, apply_overrides, field_metadata, field_names
from lora_studio.presets import load_preset
from lora_studio.ui import config_view as view
from lora_studio.ui import preflight_view


@dataclass(frozen=True)
class Facts:
    """The numbers engine.preflight.ModelFacts carries (the view only reads attributes)."""

    trainable_params: int = 1_000
    all_params: int = 101_000
    base_params: int = 100_000
    quantizable_params: int = 80_000
    hidden_size: int = 64
    num_layers: int = 2
    vocab_size: int = 1_000
    device: str = "cpu"
    dtype_bytes: int = 4
    device_memory: int | None = 8 * 2**30
    assumed_flops: float = 1e10
    flops_runs: int = 0


def test_one_widget_per_config_owned_field_and_none_for_data_owned():
    names = [spec.name for spec in view.widget_specs()]
    owned = [n for n in field_names() if not view.is_data_owned(n)]
    assert names == owned and len(set(names)) == len(names)
    assert not [n for n in names if n.startswith("data.") or n in ("model.name_or_path", "training.seed")]


def test_widget_kinds_follow_field_types_and_bounds():
    specs = {spec.name: spec for spec in view.widget_specs()}
    assert specs["model.load_in_8bit"].kind == "checkbox"
    assert specs["lora.init"].kind == "dropdown" and specs["lora.init"].choices == (
        "default",
        "gaussian",
        "olora",
        "pissa",
    )
    assert (specs["lora.r"].kind, specs["lora.r"].minimum, specs["lora.r"].maximum) == ("slider", 1, 1024)
    lr = specs["training.learning_rate"]
    # 2e-4 cannot sit on a 0.01 slider; a number box gets no bounds in the browser (Gradio would refuse the value
    # before any handler ran, freezing the form): the range is said in words
    assert (lr.kind, lr.minimum, lr.maximum) == ("number", None, None)
    assert lr.info == field_metadata("training.learning_rate")["help"] + " Allowed: greater than 0 and at most 1."
    dropout = specs["lora.dropout"]  # valid: 0 <= dropout < 1, so the slider ends one step below 1
    assert (dropout.kind, dropout.step, dropout.minimum, dropout.maximum) == ("slider", 0.01, 0.0, 0.99)
    assert specs["lora.target_modules"].kind == "targets"
    assert specs["training.gradient_accumulation"].label == "Gradient accumulation"
    assert specs["lora.r"].label == "Rank (r)" and specs["lora.use_rslora"].label == "Rank-stabilised LoRA"
    assert specs["training.lr_scheduler"].label == "Learning-rate schedule"
    assert specs["model.load_in_8bit"].label == "Load the base in 8-bit"
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            name = f"{section}.{f.name}"
            if name in specs and f.type in ("int", "float"):
                assert specs[name].kind in ("slider", "number")  # never a free text box for a number
                if specs[name].kind == "slider":  # a slider holds only values validation accepts
                    for end in (specs[name].minimum, specs[name].maximum):
                        assert declarations._check_bounds(end, f.metadata) is None, (name, end)


def test_essential_settings_come_first_and_the_rest_are_advanced():
    essential = [spec.name for spec in view.widget_specs() if spec.essential]
    assert essential == [
        "model.load_in_8bit",
        "model.load_in_4bit",
        "lora.r",
        "lora.alpha",
        "lora.dropout",
        "lora.init",
        "lora.start_from",
        "training.method",
        "training.num_epochs",
        "training.learning_rate",
    ]


def test_list_and_dict_fields_are_handled_generically():
    @dataclass
    class Extra:
        prompts: list = field(default_factory=list, metadata={"help": "one per line"})
        tags: list[str] = field(default_factory=list, metadata={"help": "tags"})
        mapping: dict = field(default_factory=dict, metadata={"help": "not edited"})
        steps: int = field(default=5, metadata={"help": "n", "min": 1, "max": 100_000})

    kinds = {f.name: view.field_kind(f"training.{f.name}", f) for f in dataclasses.fields(Extra)}
    assert kinds == {"prompts": "lines", "tags": "lines", "mapping": "readonly", "steps": "number"}


def test_widget_values_round_trip_to_the_same_config():
    cfg = apply_overrides(load_preset("chat-assistant"), ["lora.target_modules=[q_proj, v_proj]"])
    values = view.widget_values(cfg)
    assert values[view.TARGETS] == view.CHOSEN and values[view.TARGET_LAYERS] == ["q_proj", "v_proj"]
    assert view.config_from_values(cfg.to_dict(), values) == cfg.to_dict()


def test_values_become_typed_settings():
    values = {"lora.r": 32.0, view.TARGETS: view.ALL_LINEAR, view.TARGET_LAYERS: ["q_proj"], "training.batch_size": 8.0}
    state = view.config_from_values(None, values)
    assert state["lora"]["r"] == 32 and isinstance(state["lora"]["r"], int)
    assert state["lora"]["target_modules"] == "all-linear" and state["training"]["batch_size"] == 8
    chosen = view.config_from_values(state, {view.TARGETS: view.CHOSEN, view.TARGET_LAYERS: []})
    assert chosen["lora"]["target_modules"] == []
    assert "lora.target_modules" in {i.field for i in RunConfig.from_dict(chosen).validate()}


def test_list_of_text_is_one_item_per_line():
    spec = view.WidgetSpec("training.sample_prompts", "lines", "Sample prompts", "")
    assert view._from_widget(spec, "first?\n\n  second  \n", {}) == ["first?", "second"]


def test_each_tab_owns_its_fields_and_the_two_parts_cover_the_config():
    from lora_studio.ui import run_state

    data, config = set(run_state.owned_by("data")), set(run_state.owned_by("config"))
    assert data == {
        "model.name_or_path",
        "data.path",
        "data.format",
        "data.columns",
        "data.eval_fraction",
        "data.max_length",
        "data.assistant_only_loss",
        "training.seed",
    }
    assert not data & config and data | config == set(field_names())
    cfg = apply_overrides(load_preset("quick-start"), ["lora.r=32", "training.seed=1"])
    assert run_state.part(cfg, "config")["lora.r"] == 32 and run_state.part(cfg, "data")["training.seed"] == 1
    moved = run_state.with_fields(cfg, {"data.max_length": 128, "lora.r": 4})
    assert (moved.data.max_length, moved.lora.r, moved.training.seed) == (128, 4, 1)


def test_a_run_config_from_the_browser_is_read_defensively(tmp_path):
    from lora_studio.ui import run_state

    assert run_state.from_state(None).to_dict() == RunConfig().to_dict()
    assert run_state.from_state({"lora": "not a mapping"}).to_dict() == RunConfig().to_dict()
    odd = run_state.from_state({"lora": {"r": "lots"}, "nonsense": 1})
    assert odd.lora.r == "lots" and "lora.r" in {i.field for i in odd.validate()}  # validation says so
    sample = str(settings.SAMPLES_DIR / "chat-assistant.jsonl")
    assert run_state.from_state({"data": {"path": sample}}).data.path == sample
    assert run_state.from_state({"data": {"path": "/etc/passwd"}}).data.path == ""


def test_issues_are_listed_by_their_section_and_summarised():
    issues = [
        ConfigIssue("lora.init", "pissa cannot start from an 8-bit base"),
        ConfigIssue("training.batch_size", "must be at least 1, got 0"),
        ConfigIssue("data.max_length", "must be at least 16, got 8"),
    ]
    assert "**Adapter initialisation**: pissa cannot" in view.section_issues_md(issues, "lora")
    assert view.section_issues_md(issues, "model") == ""
    assert "Max length" not in view.section_issues_md(issues, "data")
    assert "**Max length (tokens)**: must be at least 16" in view.data_issues_md(issues)
    assert "Data tab" in view.data_issues_md(issues)
    summary = view.summary_md(issues)
    assert "3 problem(s)" in summary and "Adapter initialisation, Batch size, Max length (tokens)" in summary
    assert "All settings are valid" in view.summary_md([])
    spec = next(s for s in view.widget_specs() if s.name == "lora.init")
    assert view.field_info(spec, ["bad"]).startswith("⚠️ Adapter initialisation: bad")
    assert view.field_info(spec, None) == spec.info


@pytest.mark.parametrize(
    "rows,overrides,expected",
    [
        (180, ["training.batch_size=4", "training.gradient_accumulation=4", "training.num_epochs=3"], 36),
        (181, ["training.batch_size=4", "training.gradient_accumulation=1", "training.num_epochs=1"], 46),
        (3, ["training.batch_size=4", "training.gradient_accumulation=8", "training.num_epochs=2"], 2),
        (100, ["training.batch_size=10", "training.num_epochs=0.5"], 5),
        (100, ["training.max_steps=7"], 7),
        (200, ["training.batch_size=4", "training.num_processes=2"], 25),  # each process takes half the rows
        (201, ["training.batch_size=4", "training.num_processes=2"], 26),
    ],
)
def test_optimizer_steps_follow_the_trainer(rows, overrides, expected):
    assert preflight_view.optimizer_steps(rows, apply_overrides(RunConfig(), overrides)) == expected


def test_memory_estimate_parts():
    facts = Facts()
    cfg = apply_overrides(RunConfig(), ["training.batch_size=2", "data.max_length=32"])
    mem = preflight_view.estimate_memory(cfg, facts)
    assert mem.weights == 100_000 * 4 + 1_000 * 4
    assert mem.optimizer == 1_000 * 12
    assert mem.activations == 2 * 32 * 64 * 2 * preflight_view.ACTIVATION_FACTOR * 4 + 2 * 32 * 1_000 * 8
    eight_bit = preflight_view.estimate_memory(apply_overrides(cfg, ["model.load_in_8bit=true"]), facts)
    assert eight_bit.weights == 80_000 + 20_000 * 4 + 1_000 * 4
    checkpointed = preflight_view.estimate_memory(apply_overrides(cfg, ["training.gradient_checkpointing=true"]), facts)
    assert checkpointed.activations < mem.activations
    assert mem.total == mem.weights + mem.optimizer + mem.activations


def test_preflight_text_says_measured_or_rough(chat_file):
    facts = Facts()
    cfg = apply_overrides(RunConfig(), [f"data.path={chat_file}", "data.eval_fraction=0.1", "training.batch_size=4"])
    rows = preflight_view.count_train_rows(cfg)
    assert rows.train_rows == 36 and 16 < rows.mean_tokens <= cfg.data.max_length
    rough = preflight_view.preflight_md(cfg, facts, rows, None)
    assert "**1.0 K trainable parameters, 0.99% of the model** (1,000 of 101 K" in rough
    assert "trainable params:" not in rough and "hidden size 64 × 2 layers" in rough  # the formula: in a tooltip
    assert "activations <abbr title=" in rough
    assert "**9 optimizer steps**" in rough and "rough, not measured" in rough and "Measure speed" in rough
    paced = preflight_view.preflight_md(cfg, Facts(assumed_flops=5e9, flops_runs=2), rows, None)
    assert "estimated, these settings not measured yet" in paced and "5 GFLOP/s, from 2 measured speed(s)" in paced
    assert "rough" not in paced and "Measure speed" in paced
    # Half the pace: twice the time per step.
    assert paced.split("~")[2].split(" s/step")[0] == f"{2 * float(rough.split('~')[2].split(' s/step')[0]):.2f}"
    measured = preflight_view.preflight_md(cfg, facts, rows, Calibration(10.0, 123.0, measured_at=0.0))
    assert "ETA ~ 01:30** (measured on 1970-01-01" in measured and "rough" not in measured
    assert "choose a dataset" in preflight_view.preflight_md(apply_overrides(cfg, ["data.path="]), facts, None, None)
    assert "fix the problems" in preflight_view.preflight_md(cfg, None, rows, None)


def test_memory_above_the_machine_is_flagged():
    facts = Facts(device_memory=1000)
    assert "above this machine's memory" in preflight_view.preflight_md(RunConfig(), facts, None, None)


def test_formats():
    assert preflight_view.format_duration(59.6) == "01:00" and preflight_view.format_duration(3725) == "1:02:05"
    assert preflight_view.format_bytes(512) == "512 B" and preflight_view.format_bytes(3 * 2**30) == "3.0 GB"
