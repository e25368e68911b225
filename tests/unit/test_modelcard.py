"""What leaves the machine names the base publicly: adapter_config.json, the model card and its snippet; the card's
data statistics come from the run folder (no weights, no data parsing)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from lora_studio import exports, settings
from lora_studio.config import RunConfig
from lora_studio.modelcard import model_card
from lora_studio.modelref import public_base as _public_base
from lora_studio.runs import RunPaths
from tests.unit.test_exports import make_run

EMBEDDED_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def public_base(text: str) -> tuple[str, bool, bool]:
    base = _public_base(text)
    return base.id, base.hub, base.embedded


def _folder(path: Path, config: dict | None = None, **files: str) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config or {}), encoding="utf-8")
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text", ["embedded", settings.EMBEDDED_MODEL_NAME, "smollm2"])
def test_the_embedded_model_is_named_by_its_hub_id(text):
    assert public_base(text) == (EMBEDDED_ID, True, True) and settings.EMBEDDED_PUBLIC_ID == EMBEDDED_ID


def test_public_names_of_hub_ids_local_folders_and_gguf_files(tmp_path):
    assert public_base("HuggingFaceTB/SmolLM2-360M-Instruct") == ("HuggingFaceTB/SmolLM2-360M-Instruct", True, False)
    own = _folder(tmp_path / "mine", {"_name_or_path": "someone/their-model"})  # older transformers wrote it
    assert public_base(str(own)) == ("someone/their-model", True, False)
    pathy = _folder(tmp_path / "local-llama", {"_name_or_path": "/home/someone/checkpoints/x"})
    assert public_base(str(pathy)) == ("local-llama", False, False)  # the name only, never a path
    snapshot = _folder(tmp_path / "hub" / "models--org--name" / "snapshots" / ("a" * 40))
    assert public_base(str(snapshot)) == ("org/name", True, False)
    # LoRA Studio's conversion of the embedded GGUF, wherever it lies (model cache, or registered in the hub cache)
    converted = _folder(
        tmp_path / "conv", **{settings.CONVERTED_SOURCE_FILE: json.dumps({"gguf": settings.EMBEDDED_GGUF})}
    )
    assert public_base(str(converted)) == (EMBEDDED_ID, True, True)
    (tmp_path / settings.EMBEDDED_GGUF).write_bytes(b"GGUF")
    assert public_base(str(tmp_path / settings.EMBEDDED_GGUF)) == (EMBEDDED_ID, True, True)
    (tmp_path / "other.Q8_0.gguf").write_bytes(b"GGUF")
    assert public_base(str(tmp_path / "other.Q8_0.gguf")) == ("other.Q8_0", False, False)
    assert public_base("/no/such/machine/folder") == ("folder", False, False)


def test_an_exported_adapter_of_the_embedded_model_names_its_hub_id(tmp_path, studio_home):
    """The issue's done-criterion, in the zip and in the folder a push uploads; nothing of this machine leaks."""
    paths = make_run(tmp_path)
    (paths.adapter / "adapter_config.json").write_text(
        json.dumps({"r": 4, "base_model_name_or_path": str(settings.model_cache_dir() / "SmolLM2-135M-Instruct")})
    )
    with zipfile.ZipFile(exports.adapter_zip(paths)) as archive:
        texts = {n: archive.read(n).decode(errors="replace") for n in archive.namelist()}
    config = json.loads(texts["run-a-adapter/adapter_config.json"])
    assert config == {"r": 4, "base_model_name_or_path": EMBEDDED_ID}
    card = texts["run-a-adapter/README.md"]
    assert f"base_model: {EMBEDDED_ID}\n" in card
    assert f'base = AutoModelForCausalLM.from_pretrained("{EMBEDDED_ID}")' in card
    assert 'PeftModel.from_pretrained(base, "run-a-adapter")' in card and "BASE_MODEL" not in card
    assert "Q4_1 GGUF, dequantised" in card and "can differ slightly" in card and "--hub-cache" in card
    for text in texts.values():
        assert str(tmp_path) not in text and str(settings.model_cache_dir()) not in text
    pushed = exports.write_adapter_export(paths)
    assert json.loads((pushed / "adapter_config.json").read_text())["base_model_name_or_path"] == EMBEDDED_ID
    assert (pushed / "README.md").read_text() == card
    # the run's own (older) file is only read
    assert str(settings.model_cache_dir()) in (paths.adapter / "adapter_config.json").read_text()


def test_a_local_base_is_named_without_its_path(tmp_path, studio_home):
    paths = make_run(tmp_path)
    base = _folder(tmp_path / "my-base")
    cfg = RunConfig.load(paths.config)
    cfg.model.name_or_path = str(base)
    cfg.save(paths.config)
    card = model_card(paths, "adapter")
    assert "base_model:" not in card and str(tmp_path) not in card
    assert 'from_pretrained("my-base")  # the folder of that model on your machine' in card
    merged = model_card(paths, "merged", None, "bfloat16")
    assert 'AutoModelForCausalLM.from_pretrained("run-a-merged-bfloat16")' in merged and str(tmp_path) not in merged


def test_the_card_reads_the_statistics_training_wrote_never_the_data(tmp_path):
    paths = make_run(tmp_path, rows=3)
    Path(RunConfig.load(paths.config).data.path).unlink()  # export must not need the data any more
    assert "| Training data | run-a.jsonl (3 rows, prompt_completion) |" in model_card(paths, "adapter")
    paths.data_stats.write_text(
        json.dumps(
            {
                "file": "d.jsonl",
                "rows": 40,
                "format": "messages",
                "train_rows": 36,
                "eval_rows": 4,
                "train_tokens": 12345,
            }
        )
    )
    line = "d.jsonl (40 rows, messages); 36 for training, 4 held out for evaluation; 12,345 training tokens per epoch"
    assert line in model_card(paths, "adapter")


def test_a_run_from_before_the_statistics_says_they_were_not_recorded(tmp_path):
    paths = make_run(tmp_path)
    paths.data_stats.unlink()
    assert "| Training data | run-a.jsonl (statistics not recorded" in model_card(paths, "adapter")
    paths.data_stats.write_text("{half a fi")
    assert "statistics not recorded" in model_card(paths, "adapter")
    assert RunPaths(paths.root).data_stats.name == "data_stats.json"
