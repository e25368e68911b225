"""Model preparation: the converted cache appears atomically or not at all."""

from __future__ import annotations

import shutil

import pytest

from lora_studio.engine.models import convert_gguf, embedded_gguf_path, resolve_model_dir
from lora_studio.errors import ModelError
from lora_studio.modelref import ModelRef, parse_model_ref


def test_failed_conversion_leaves_no_folder_and_no_temp(tmp_path, monkeypatch):
    import transformers

    def boom(*args, **kwargs):
        raise RuntimeError("disk vanished")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", boom)
    target = tmp_path / "cache" / "model"
    with pytest.raises(RuntimeError, match="disk vanished"):
        convert_gguf(embedded_gguf_path(), target)
    assert not target.exists()
    assert list((tmp_path / "cache").iterdir()) == []


def test_half_written_cache_is_not_used(tmp_path, embedded_dir, monkeypatch):
    """A folder without the completion record (e.g. copied half-way) is converted again."""
    target = tmp_path / "model"
    shutil.copytree(embedded_dir, target)
    (target / "lora_studio_source.json").unlink()

    def reconvert(*args, **kwargs):
        raise RuntimeError("reconverting")

    monkeypatch.setattr("transformers.AutoTokenizer.from_pretrained", reconvert)
    with pytest.raises(RuntimeError, match="reconverting"):
        convert_gguf(embedded_gguf_path(), target)
    # ... while a complete one is reused without touching transformers.
    assert convert_gguf(embedded_gguf_path(), embedded_dir) == embedded_dir


def test_embedded_and_local_references_resolve(embedded_dir, tiny_model_dir):
    assert resolve_model_dir(parse_model_ref("embedded")) == str(embedded_dir)
    assert resolve_model_dir(parse_model_ref(str(tiny_model_dir))) == str(tiny_model_dir.resolve())


def test_uncached_hub_id_offline_names_alternatives():
    with pytest.raises(ModelError) as info:
        resolve_model_dir(ModelRef("hub", "nobody/not-cached-model"))
    assert "offline" in info.value.message and "embedded" in info.value.hint


def test_auto_dtype_per_device(monkeypatch):
    import torch

    from lora_studio.engine.models import resolve_dtype

    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", "cuda") == torch.bfloat16
    assert resolve_dtype("auto", "cuda", load_in_8bit=True) == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_dtype("auto", "cuda") == torch.float16


def test_cpu_training_uses_no_mixed_precision(tmp_path):
    from lora_studio.config import RunConfig
    from lora_studio.engine.train import make_sft_config
    from lora_studio.runs import RunPaths

    cpu = make_sft_config(RunConfig(), RunPaths(tmp_path), "cpu", has_eval=False, assistant_only=True)
    assert cpu.use_cpu and not cpu.bf16 and not cpu.fp16


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_cuda(tmp_path, tiny_model_dir, chat_file):
    import torch

    from lora_studio.engine.train import train
    from tests.integration.helpers import new_run, tiny_config

    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=3")
    result = train(cfg, new_run(tmp_path, cfg))
    assert result.state == "completed"
    assert next(result.model.parameters()).device.type == "cuda"
    if torch.cuda.is_bf16_supported():
        assert result.model.get_base_model().dtype == torch.bfloat16


def test_a_pending_conversion_is_announced_before_it_starts(tmp_path, embedded_dir, tiny_model_dir, monkeypatch):
    from lora_studio.engine.models import needs_conversion

    assert not needs_conversion("embedded")  # converted by the session fixture
    assert not needs_conversion(str(tiny_model_dir))  # a plain folder loads as it is
    monkeypatch.setenv("LORA_STUDIO_MODEL_CACHE", str(tmp_path / "empty-cache"))
    assert needs_conversion("embedded")
