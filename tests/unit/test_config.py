from __future__ import annotations

import pytest

from lora_studio import config_checks as config_mod
from lora_studio.config import RunConfig, apply_overrides, field_metadata, field_names
from lora_studio.errors import ConfigError


def fields_with_issues(cfg: RunConfig) -> dict[str, str]:
    return {issue.field: issue.message for issue in cfg.validate()}


def test_defaults_are_valid():
    assert RunConfig().validate() == []


def test_every_field_has_help_text():
    for name in field_names():
        assert field_metadata(name)["help"].strip(), name


def test_all_problems_reported_at_once_each_naming_its_field():
    cfg = apply_overrides(
        RunConfig(),
        [
            "lora.r=0",
            "lora.alpha=0",
            "lora.dropout=1",
            "training.learning_rate=0",
            "training.batch_size=0",
            "model.dtype=float64",
            "data.eval_fraction=0.9",
        ],
    )
    issues = fields_with_issues(cfg)
    assert set(issues) == {
        "lora.r",
        "lora.alpha",
        "lora.dropout",
        "training.learning_rate",
        "training.batch_size",
        "model.dtype",
        "data.eval_fraction",
    }
    assert "at least 1" in issues["lora.r"]
    assert "greater than 0" in issues["lora.alpha"]
    assert "less than 1" in issues["lora.dropout"]
    assert "float32" in issues["model.dtype"]  # says what to pick instead


def test_wrong_types_are_reported_not_crashing():
    cfg = apply_overrides(RunConfig(), ["lora.r=eight", "training.gradient_checkpointing=maybe", "lora.r=2.5"])
    assert "whole number" in fields_with_issues(cfg)["lora.r"]
    cfg = apply_overrides(RunConfig(), ["training.gradient_checkpointing=maybe"])
    assert "true or false" in fields_with_issues(cfg)["training.gradient_checkpointing"]


def test_empty_target_modules_rejected():
    cfg = apply_overrides(RunConfig(), ["lora.target_modules=[]"])
    assert "lora.target_modules" in fields_with_issues(cfg)
    cfg = apply_overrides(RunConfig(), ["lora.target_modules=[q_proj, v_proj]"])
    assert cfg.lora.target_modules == ["q_proj", "v_proj"] and cfg.validate() == []


def test_8bit_without_bitsandbytes_says_so(monkeypatch):
    real = config_mod.importlib.util.find_spec
    monkeypatch.setattr(
        config_mod.importlib.util, "find_spec", lambda name, *a: None if name == "bitsandbytes" else real(name, *a)
    )
    cfg = apply_overrides(RunConfig(), ["model.load_in_8bit=true"])
    assert "bitsandbytes" in fields_with_issues(cfg)["model.load_in_8bit"]


def test_8bit_with_bitsandbytes_is_fine_but_not_with_pissa():
    assert apply_overrides(RunConfig(), ["model.load_in_8bit=true", "lora.init=olora"]).validate() == []
    cfg = apply_overrides(RunConfig(), ["model.load_in_8bit=true", "lora.init=pissa"])
    assert "olora" in fields_with_issues(cfg)["lora.init"]


def test_yaml_round_trip():
    cfg = apply_overrides(
        RunConfig(),
        [
            "lora.r=32",
            "lora.init=olora",
            "data.columns={prompt: q}",
            "training.learning_rate=3e-4",
            "lora.target_modules=[q_proj]",
        ],
    )
    again = RunConfig.from_yaml(cfg.to_yaml())
    assert again == cfg
    assert again.training.learning_rate == pytest.approx(3e-4)


def test_unknown_keys_warn_with_their_names():
    warnings: list[str] = []
    cfg = RunConfig.from_yaml("lora:\n  r: 4\n  rank: 9\nextras:\n  x: 1\n", warnings)
    assert cfg.lora.r == 4
    assert len(warnings) == 1 and "lora.rank" in warnings[0] and "extras" in warnings[0]


def test_bad_yaml_and_bad_override_are_clear_errors():
    with pytest.raises(ConfigError, match="not valid YAML"):
        RunConfig.from_yaml("lora: [unclosed")
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        apply_overrides(RunConfig(), ["r16"])
    with pytest.raises(ConfigError, match=r"no setting 'lora\.rank'"):
        apply_overrides(RunConfig(), ["lora.rank=16"])


# ---- limits that come from the machine, and free text of reasonable length (issue 11, finding 5) ----------
def _issues(*overrides: str) -> dict[str, str]:
    from lora_studio.config import apply_overrides

    return {issue.field: issue.message for issue in apply_overrides(RunConfig(), list(overrides)).validate()}


def test_more_processes_than_this_machine_has_devices_are_refused(monkeypatch):
    from lora_studio import config_checks as config

    monkeypatch.setattr(config, "local_devices", lambda: ("CPU core", 2))
    message = _issues("training.num_processes=1024")["training.num_processes"]
    assert "1024" in message and "2 CPU core(s)" in message and "at most 2" in message
    assert "training.num_processes" not in _issues("training.num_processes=2")
    monkeypatch.setattr(config, "local_devices", lambda: ("GPU", 8))
    assert "training.num_processes" not in _issues("training.num_processes=8")
    assert "8 GPU(s)" in _issues("training.num_processes=9")["training.num_processes"]


def test_an_accelerate_config_decides_the_process_count_across_machines(monkeypatch, tmp_path):
    from lora_studio import config_checks as config

    monkeypatch.setattr(config, "local_devices", lambda: ("CPU core", 2))
    assert "training.num_processes" not in _issues(
        "training.num_processes=16", f"training.accelerate_config={tmp_path / 'multi.yaml'}"
    )


def test_local_devices_counts_cores_without_a_gpu_and_respects_cuda_visible_devices(monkeypatch):
    import os

    from lora_studio import settings

    monkeypatch.setattr(settings.Path, "glob", lambda folder, pattern: iter([]))
    assert settings.local_devices() == ("CPU core", len(os.sched_getaffinity(0)))
    monkeypatch.setattr(
        settings.Path,
        "glob",
        lambda folder, pattern: iter(
            [folder / "nvidia0", folder / "nvidia1", folder / "nvidiactl"]
            if str(folder) == "/dev"
            else [folder / "a", folder / "b"]
        ),
    )
    assert settings.local_devices() == ("GPU", 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert settings.local_devices() == ("GPU", 1)


def test_sample_prompts_are_questions_not_documents():
    long = _issues('training.sample_prompts=["' + "x" * 1_000_000 + '"]')["training.sample_prompts"]
    assert "1,000,000 characters" in long and "at most 2,000" in long
    many = _issues("training.sample_prompts=[" + ", ".join(f'"q{i}?"' for i in range(20)) + "]")
    assert "20 prompts" in many["training.sample_prompts"]
    assert "training.sample_prompts" not in _issues('training.sample_prompts=["What is LoRA?"]')


def _issues(*overrides: str) -> dict[str, str]:
    return {i.field: i.message for i in apply_overrides(RunConfig(), list(overrides)).validate()}


def test_8bit_and_4bit_are_one_or_the_other():
    assert "model.load_in_4bit" not in _issues("model.load_in_4bit=true")
    assert "pick one" in _issues("model.load_in_4bit=true", "model.load_in_8bit=true")["model.load_in_4bit"]
    assert "pissa cannot start from a 4-bit base" in _issues("model.load_in_4bit=true", "lora.init=pissa")["lora.init"]


def test_settings_of_one_method_are_refused_with_another():
    assert (
        "sft) only" in _issues("training.method=dpo", "training.neftune_noise_alpha=5")["training.neftune_noise_alpha"]
    )
    assert not _issues("training.method=sft", "training.neftune_noise_alpha=5")
    too_long = _issues("training.method=orpo", "training.max_prompt_length=512", "data.max_length=512")
    assert "no room for the answers" in too_long["training.max_prompt_length"]
    assert "pairs of answers" in _issues("training.method=dpo", "data.format=messages")["training.method"]
    assert "pick dpo or orpo" in _issues("data.format=preference")["training.method"]
    assert "set it to default" in _issues("lora.start_from=run-1", "lora.init=olora")["lora.init"]
    assert "olora start" in _issues("lora.use_dora=true", "lora.init=olora")["lora.use_dora"]
    assert not _issues("lora.use_dora=true", "model.load_in_4bit=true")  # peft's DoRA works on bitsandbytes layers
    assert "must be one of sft, dpo, orpo" in _issues("training.method=ppo")["training.method"]
