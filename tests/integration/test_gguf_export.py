"""GGUF export on the tiny Llama with SmolLM2's tokenizer: the file's keys and shapes, read back by transformers,
the verification (and that it can fail), refusals, the Modelfile, and the CLI end to end."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from lora_studio import gguf_files
from lora_studio.engine import gguf_export
from lora_studio.engine.train import train
from lora_studio.errors import ModelError
from lora_studio.runs import update_status
from tests.integration.helpers import new_run, tiny_config

SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """The tiny model with a rope base that is not transformers' default (a writer that drops it is caught)."""
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny"))
    config = json.loads((folder / "config.json").read_text())
    config["rope_parameters"] = {"rope_theta": 100000.0, "rope_type": "default"}
    config.pop("rope_theta", None)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_the_file_holds_what_llama_cpp_reads_and_transformers_reproduces_the_model(model_dir, tmp_path):
    import gguf

    out = gguf_export.write_gguf(model_dir, tmp_path / "tiny-f16.gguf", "f16", SMOLLM2, "tiny")
    reader = gguf.GGUFReader(str(out))
    fields = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    assert fields["general.architecture"] == "llama"
    assert fields["llama.rope.freq_base"] == pytest.approx(100000.0)
    assert fields["llama.attention.head_count"] == 4 and fields["llama.attention.head_count_kv"] == 2
    assert fields["tokenizer.ggml.model"] == "gpt2" and fields["tokenizer.ggml.pre"] == "smollm"
    assert len(fields["tokenizer.ggml.tokens"]) == 49152 and fields["tokenizer.ggml.merges"]
    assert "<|im_start|>" in fields["tokenizer.chat_template"]
    tensors = {t.name: t for t in reader.tensors}
    assert "output.weight" not in tensors  # tied embeddings are written once
    assert list(tensors["blk.0.attn_q.weight"].shape) == [64, 64]
    assert list(tensors["blk.0.attn_k.weight"].shape) == [64, 32]
    assert tensors["blk.0.attn_norm.weight"].tensor_type == gguf.GGMLQuantizationType.F32  # norms stay f32
    assert tensors["blk.0.ffn_up.weight"].tensor_type == gguf.GGMLQuantizationType.F16

    report = gguf_export.verify_gguf(model_dir, out, "f16")
    assert report["passed"] and report["same_token_ids"], report
    assert report["max_logit_diff"] < 0.05 and report["greedy_agreement"] == 1.0


def test_q8_0_is_verified_on_its_answers(model_dir, tmp_path):
    out = gguf_export.write_gguf(model_dir, tmp_path / "tiny-q8_0.gguf", "q8_0", SMOLLM2, "tiny")
    report = gguf_export.verify_gguf(model_dir, out, "q8_0")
    assert report["passed"] and report["logit_tolerance"] is None
    assert report["next_token_agreement"] > 0.9
    f16 = gguf_export.write_gguf(model_dir, tmp_path / "tiny-f16.gguf", "f16", SMOLLM2, "tiny")
    assert out.stat().st_size < f16.stat().st_size


def test_a_broken_query_key_permutation_is_caught(model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(gguf_export, "permute", lambda weights, n_head, n_head_kv=None: np.asarray(weights))
    out = gguf_export.write_gguf(model_dir, tmp_path / "broken.gguf", "f32", SMOLLM2, "tiny")
    report = gguf_export.verify_gguf(model_dir, out, "f32")
    assert not report["passed"] and report["max_logit_diff"] > gguf_export.LOGIT_TOLERANCE["f32"]


def test_unsupported_models_are_refused_before_any_work(model_dir, tmp_path):
    other = Path(shutil.copytree(model_dir, tmp_path / "qwen"))
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "architectures": ["Qwen2ForCausalLM"]}))
    with pytest.raises(ModelError, match="does not support the Qwen2ForCausalLM architecture"):
        gguf_export.plan(other, "Qwen/Qwen2.5-0.5B")
    scaled = Path(shutil.copytree(model_dir, tmp_path / "scaled"))
    (scaled / "config.json").write_text(json.dumps({**config, "rope_parameters": {"rope_type": "llama3"}}))
    with pytest.raises(ModelError, match="rope scaling"):
        gguf_export.plan(scaled, SMOLLM2)
    assert gguf_export.plan(model_dir, "my-local-copy") == ("llama", "smollm")  # told by how it splits text


def test_modelfile_speaks_ollamas_template_syntax(tmp_path):
    chatml = "{{ '<|im_start|>system\\nBe brief.<|im_end|>\\n' }}{% for m in messages %}<|im_start|>{% endfor %}"
    text = gguf_files.modelfile(tmp_path / "run-q8_0.gguf", chatml)
    assert text.startswith("FROM ./run-q8_0.gguf\n")
    assert "{{ range .Messages }}" in text.replace("{{-", "{{") and 'PARAMETER stop "<|im_end|>"' in text
    assert 'SYSTEM """Be brief."""' in text
    assert gguf_files.modelfile(tmp_path / "x.gguf", "{{ unknown }}") == "FROM ./x.gguf\n"
    assert gguf_files.run_commands(tmp_path / "My Run-q8_0.gguf")[0].endswith("ollama run my-run-q8_0")


def test_cli_exports_a_verified_gguf_of_a_run(tmp_path, tiny_model_dir, chat_file, capsys):
    from lora_studio.__main__ import main
    from lora_studio.exports import list_merged

    cfg = tiny_config(tiny_model_dir, chat_file, "training.max_steps=2")
    paths = new_run(tmp_path / "runs", cfg, "gguf-run")
    update_status(paths, state=train(cfg, paths).state)
    assert main(["export", "--run-dir", str(paths.root), "--gguf", "f16"]) == 0
    printed = capsys.readouterr().out
    target = gguf_files.gguf_path(paths, "f16")
    assert target.is_file() and f"gguf: {target}" in printed
    assert gguf_files.beside(target, ".Modelfile").read_text().startswith(f"FROM ./{target.name}")
    assert gguf_files.read_report(target)["passed"]
    assert list_merged(paths)  # the float32 merge it needed was made (and verified) on the way
    assert "ollama create gguf-run-f16" in printed
    card = (gguf_files.gguf_dir(paths) / "README.md").read_text()
    assert "base_model: " in card and "gguf-run-f16.gguf" in card and "verification passed" in card
    assert str(tmp_path) not in card  # nothing of this machine's paths leaves with the files
    from lora_studio.adapters import merged_models

    assert (f"{target.name} (GGUF)", str(target)) in merged_models(tmp_path / "runs")  # a Playground base

    from lora_studio import exports
    from lora_studio.ui import export_gguf, export_view

    exports.start_gguf(paths, "q8_0")  # the dashboard's way: an export worker process
    deadline = time.time() + 180
    while exports.poll_export(paths).state == "running" and time.time() < deadline:
        time.sleep(0.5)
    status = exports.poll_export(paths)
    assert status.state == "completed" and status.action == "gguf", status
    assert status.verification["passed"] and status.verification["type"] == "q8_0"
    assert [p.name for p in export_gguf.files(paths)] == ["gguf-run-q8_0.gguf", "gguf-run-f16.gguf"]
    assert "gguf" in [value for _, value in export_view.push_choices(paths)]
    assert "ollama create gguf-run-q8_0" in export_gguf.gguf_md(paths)

    assert main(["export", "--run-dir", str(paths.root)]) == 2  # nothing asked for
    assert "Nothing to export" in capsys.readouterr().err
    assert main(["export", "--run-dir", str(paths.root), "--gguf", "f16", "--out", str(tmp_path / "x.bin")]) == 2
    assert "not a .gguf file name" in capsys.readouterr().err
