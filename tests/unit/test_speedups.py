"""Which speed-ups a run gets (engine/speedups.py): the CUDA ones too, decided from what is installed."""

from __future__ import annotations

import pytest

from lora_studio.calibration import Calibration
from lora_studio.config import RunConfig, apply_overrides
from lora_studio.engine import speedups


def cfg(*overrides: str) -> RunConfig:
    return apply_overrides(RunConfig(), list(overrides))


def test_padding_free_for_supervised_batches_whose_attention_keeps_rows_apart():
    for attention in ("sdpa", "eager", "flash_attention_2"):
        assert speedups.padding_free(cfg(), attention).on
    assert not speedups.padding_free(cfg("training.padding_free=never"), "sdpa").on
    assert not speedups.padding_free(cfg("training.method=dpo"), "sdpa").on
    assert not speedups.padding_free(cfg("training.batch_size=1"), "sdpa").on
    odd = speedups.padding_free(cfg(), "my_custom_attention")
    assert not odd.on and "my_custom_attention" in odd.why


def test_flash_attention_only_on_cuda_in_16_bit_when_installed():
    assert speedups.attention_implementation("cuda", True, True) == "flash_attention_2"
    assert speedups.attention_implementation("cuda", True, False) is None  # SDPA
    assert speedups.attention_implementation("cuda", False, True) is None  # float32: FlashAttention has no kernel
    assert speedups.attention_implementation("cpu", True, True) is None


def test_liger_kernels_only_on_cuda_when_installed():
    assert speedups.liger("cuda", True).on
    missing = speedups.liger("cuda", False)
    assert not missing.on and "pip install liger-kernel" in missing.why
    assert not speedups.liger("cpu", True).on
    assert speedups.liger("cuda", True).line("Liger kernels").startswith("Liger kernels: on (")


def _speed(sec_per_step: float) -> Calibration:
    return Calibration(sec_per_step, 100.0)


@pytest.mark.parametrize(
    ("setting", "steps", "eager", "compiled", "compile_s", "on"),
    [
        ("always", 1, None, None, 0.0, True),
        ("never", 10**6, _speed(2.0), _speed(1.0), 10.0, False),
        ("auto", 10**6, _speed(2.0), None, 0.0, False),  # never compiled here: nothing shows it pays
        ("auto", 10**6, None, _speed(1.0), 10.0, False),  # the eager speed is unknown
        ("auto", 10**6, _speed(1.0), _speed(1.0), 10.0, False),  # no faster
        ("auto", 12, _speed(2.0), _speed(1.0), 10.0, False),  # saves 1 s a step: 10 s x 1.2 pays after 13 steps
        ("auto", 13, _speed(2.0), _speed(1.0), 10.0, True),
    ],
)
def test_compile_choice(setting, steps, eager, compiled, compile_s, on):
    choice = speedups.compile_choice(setting, steps, eager, compiled, compile_s)
    assert choice.on is on and choice.why


def test_compile_settings_read_as_words_on_the_command_line():
    # on/off would be booleans to YAML; the choices are words it keeps as text.
    assert cfg("training.compile=never").training.compile == "never"
    assert cfg("training.padding_free=never").validate() == []
    [issue] = cfg("training.compile=off").validate()
    assert issue.field == "training.compile" and "got a yes/no" in issue.message and "always, never" in issue.message


def _collator(cost: float):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    return speedups.LeastWorkCollator(DataCollatorForLanguageModeling(pad_token_id=0), cost)


def test_each_batch_is_laid_end_to_end_only_where_that_is_less_work():
    cpu = _collator(speedups.pair_cost("sdpa", layers=30, hidden=576, parameters=134_515_008))  # SmolLM2-135M
    assert cpu.end_to_end([20, 80, 30, 70])  # a third of a padded batch would be filler
    assert not cpu.end_to_end([62, 60, 61, 63])  # 3% filler: the long sequence's attention costs more
    assert not cpu.end_to_end([200, 230, 190, 215])
    assert not cpu.end_to_end([50, 50, 50, 50])
    flash = _collator(speedups.pair_cost("flash_attention_2", 30, 576, 134_515_008))
    assert flash.pair_cost == 0 and flash.end_to_end([62, 60, 61, 63])  # rows computed apart: any filler is waste

    flat = cpu([{"input_ids": [5, 6, 7]}, {"input_ids": [8]}, {"input_ids": [9]}])
    assert flat["input_ids"].tolist() == [[5, 6, 7, 8, 9]] and flat["position_ids"].tolist() == [[0, 1, 2, 0, 0]]
    padded = cpu([{"input_ids": [5, 6, 7]}, {"input_ids": [8, 9, 10]}])
    assert padded["input_ids"].shape == (2, 3) and "attention_mask" in padded


def test_the_output_layer_skips_unlabelled_positions_on_an_eager_cpu_run_only():
    assert speedups.labelled_only("cpu", compiled=False).on
    compiled = speedups.labelled_only("cpu", compiled=True)
    assert not compiled.on and "compiled again" in compiled.why  # a changing number of rows: recompiles
    assert speedups.labelled_only("cuda", compiled=False).on == speedups.installed("triton")  # TRL's own choice
    assert not speedups.labelled_only("mps", compiled=False).on
