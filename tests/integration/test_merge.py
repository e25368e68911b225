"""Merging real (tiny) adapters: verified against base + adapter, loadable without LoRA Studio, CLI exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer

from lora_studio import exports
from lora_studio.__main__ import main as cli
from lora_studio.engine import merge
from lora_studio.engine.export_worker import run_merge
from lora_studio.engine.train import train
from lora_studio.engine.worker import run
from lora_studio.runs import RunPaths, update_status
from tests.conftest import SAMPLES
from tests.integration.helpers import PROBE, logits, new_run, tiny_config

ROOT = Path(__file__).resolve().parents[2]


def trained_run(tmp_path: Path, model_dir: Path, data: Path, *overrides: str, name: str = "run") -> RunPaths:
    """A completed run with a non-zero adapter (a few steps at a high learning rate), as the worker leaves it."""
    cfg = tiny_config(model_dir, data, "training.learning_rate=0.01", *overrides)
    paths = new_run(tmp_path, cfg, name)
    assert run(paths.root) == 0
    return paths


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_model_dir) -> RunPaths:
    root = tmp_path_factory.mktemp("merge-run")
    data = root / "chat.jsonl"
    data.write_text("\n".join((SAMPLES / "chat-assistant.jsonl").read_text().splitlines()[:40]) + "\n")
    return trained_run(root, tiny_model_dir, data)


def base_and_tuned_logits(model_dir: Path, paths: RunPaths) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 logits of the base and of base + adapter (unmerged), with plain transformers + peft."""
    tokenizer = AutoTokenizer.from_pretrained(paths.adapter)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    base_logits = logits(base, tokenizer)
    return base_logits, logits(PeftModel.from_pretrained(base, paths.adapter), tokenizer)


def merged_logits(folder: Path) -> torch.Tensor:
    return logits(
        AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), AutoTokenizer.from_pretrained(folder)
    )


@pytest.fixture(scope="module")
def merged_fp32(tiny_run, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("merged-fp32") / "merged"
    return out, merge.merge_run(tiny_run, out, "float32")


def test_float32_merge_equals_base_plus_adapter(tiny_run, tiny_model_dir, merged_fp32):
    out, report = merged_fp32
    assert report["passed"] and report["float32"]["max_logit_diff"] <= 1e-4
    assert report["prompts"] == 4 and report["float32"]["generations_match"]  # 3 chat prompts + 1 from the data
    assert report["adapter_effect"] > 1e-3
    base, tuned = base_and_tuned_logits(tiny_model_dir, tiny_run)
    assert (tuned - base).abs().max() > 1e-3  # the adapter is not zero: the check below means something
    assert (merged_logits(out) - tuned).abs().max() < 1e-4
    assert json.loads((out / "verification.json").read_text())["passed"] is True
    card = (out / "README.md").read_text()
    assert "merged model (float32)" in card and "chat.jsonl (40 rows, messages)" in card and "✅ Verified" in card
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())  # no temporary folder left


def test_bfloat16_export_is_verified_in_float32_then_cast(tiny_run, tiny_model_dir, tmp_path):
    out = tmp_path / "bf16"
    report = merge.merge_run(tiny_run, out, "bfloat16")
    assert report["float32"]["passed"] and report["cast"]["dtype"] == "bfloat16" and report["passed"]
    assert 0 < report["cast"]["max_logit_diff"] <= report["cast"]["tolerance"]
    with safe_open(out / "model.safetensors", "pt") as weights:
        assert {weights.get_tensor(k).dtype for k in weights.keys()} == {torch.bfloat16}  # noqa: SIM118 - safe_open is not iterable
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    _, tuned = base_and_tuned_logits(tiny_model_dir, tiny_run)
    assert (merged_logits(out) - tuned).abs().max() <= report["cast"]["tolerance"]


def test_8bit_trained_adapter_merges_into_a_float32_base(tmp_path, tiny_model_dir, chat_file):
    paths = trained_run(tmp_path, tiny_model_dir, chat_file, "model.load_in_8bit=true", "training.max_steps=4")
    out = tmp_path / "merged"
    report = merge.merge_run(paths, out, "float32")
    assert report["passed"] and report["adapter_effect"] > 1e-3
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "float32"  # not the quantized weights
    base, tuned = base_and_tuned_logits(tiny_model_dir, paths)
    assert (tuned - base).abs().max() > 1e-3
    assert (merged_logits(out) - tuned).abs().max() < 1e-4


def test_olora_merge_reproduces_the_trained_model(tmp_path, tiny_copy, chat_file):
    cfg = tiny_config(tiny_copy, chat_file, "lora.init=olora", "training.learning_rate=0.01")
    paths = new_run(tmp_path, cfg)
    result = train(cfg, paths)
    update_status(paths, state=result.state, step=result.step, max_steps=result.max_steps)
    tokenizer = AutoTokenizer.from_pretrained(paths.adapter)
    trained = logits(result.model, tokenizer)  # the mutated base + the OLoRA adapter, as trained
    base = logits(AutoModelForCausalLM.from_pretrained(tiny_copy), tokenizer)
    assert (trained - base).abs().max() > 1e-3
    out = tmp_path / "merged"
    assert merge.merge_run(paths, out, "float32")["passed"]
    assert (merged_logits(out) - trained).abs().max() < 1e-4  # the merge is the model as trained


def tampering_save(real_save):
    """save_model that nudges one weight before writing: a merge that went wrong on its way to disk."""

    def save(model, tokenizer, folder):
        with torch.no_grad():
            next(p for n, p in model.named_parameters() if "q_proj" in n).add_(0.01)
        real_save(model, tokenizer, folder)

    return save


def test_tampered_weights_fail_verification_and_nothing_is_saved(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setattr(merge, "save_model", tampering_save(merge.save_model))
    out = tmp_path / "merged"
    assert run_merge(tiny_run.root, out, "float32") == 1
    assert not out.exists()
    status = exports.read_export_status(tiny_run)
    assert status.state == "failed" and "Verification failed" in status.error and status.hint
    report = status.verification
    assert report["passed"] is False and report["float32"]["max_logit_diff"] > 1e-4


def test_cli_merge_and_export_exit_codes(tiny_run, tmp_path, monkeypatch, capsys):
    out = tmp_path / "cli-merged"
    assert cli(["merge", "--run-dir", str(tiny_run.root), "--out", str(out)]) == 0
    assert "Verified" in capsys.readouterr().out and (out / "model.safetensors").is_file()
    assert cli(["export", "--run-dir", str(tiny_run.root), "--adapter-zip", str(tmp_path / "a.zip")]) == 0
    assert zipfile.is_zipfile(tmp_path / "a.zip")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert cli(["merge", "--run-dir", str(tiny_run.root), "--out", str(tmp_path / "busy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "already holds other files" in err[0]
    monkeypatch.setattr(merge, "save_model", tampering_save(merge.save_model))
    assert cli(["merge", "--run-dir", str(tiny_run.root), "--out", str(tmp_path / "bad")]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1].startswith("error: Verification failed")
    assert "Verification failed" in captured.out  # the report is printed too


def test_cli_refuses_a_run_without_adapter(tmp_path, tiny_model_dir, chat_file):
    cfg = tiny_config(tiny_model_dir, chat_file)
    paths = new_run(tmp_path, cfg, "unfinished")  # queued: never trained
    for argv in (
        ["merge", "--run-dir", str(paths.root), "--out", str(tmp_path / "m")],
        ["export", "--run-dir", str(paths.root), "--adapter-zip", str(tmp_path / "a.zip")],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "lora_studio", *argv], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "only a completed or stopped run" in lines[0]


FRESH = """
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
{extra}
tok = AutoTokenizer.from_pretrained(sys.argv[1])
batch = tok({probe!r}, return_tensors="pt")
with torch.no_grad():
    out = model(**batch).logits.float()
torch.save(out, sys.argv[2])
assert not any(m.startswith("lora_studio") for m in sys.modules), "LoRA Studio code was imported"
"""


def fresh_logits(tmp_path: Path, folder: Path, extra: str) -> torch.Tensor:
    """Logits computed in a fresh interpreter with only transformers/peft (isolated: no LoRA Studio on the path)."""
    result = tmp_path / f"logits-{folder.name}.pt"
    code = FRESH.format(extra=extra, probe=PROBE)
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code, str(folder), str(result)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(result)


def test_exports_load_in_a_fresh_process_without_lora_studio(tiny_run, tiny_model_dir, merged_fp32, tmp_path):
    merged_out = merged_fp32[0]
    expected = merged_logits(merged_out)
    got = fresh_logits(tmp_path, merged_out, "model = AutoModelForCausalLM.from_pretrained(sys.argv[1])")
    assert torch.allclose(got, expected, atol=1e-6)

    archive = exports.adapter_zip(tiny_run, tmp_path / "adapter.zip")
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path / "unzipped")
    folder = tmp_path / "unzipped" / f"{tiny_run.run_id}-adapter"
    _, tuned = base_and_tuned_logits(tiny_model_dir, tiny_run)
    load = (
        "from peft import PeftModel\n"
        f"model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained({str(tiny_model_dir)!r}), "
        "sys.argv[1])"
    )
    got = fresh_logits(tmp_path, folder, load)
    assert torch.allclose(got, tuned, atol=1e-6)
    assert (folder / "README.md").read_text().startswith("---\nlibrary_name: peft")
