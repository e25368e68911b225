"""The issue's promise on the real embedded SmolLM2: an exported adapter names HuggingFaceTB/SmolLM2-135M-Instruct
as its base, and after `prepare-model --hub-cache` it loads offline on another machine's plain transformers + peft
exactly as LoRA Studio loads it (which maps that id to its local conversion on its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from lora_studio import exports, settings
from lora_studio.config import ModelSettings, RunConfig, apply_overrides
from lora_studio.engine.models import load_model, resolve_model_dir
from lora_studio.engine.train import save_adapter
from lora_studio.modelref import parse_model_ref
from lora_studio.runs import update_status
from tests.conftest import ROOT
from tests.integration.helpers import logits, new_run
from tests.integration.test_offline_export import card_snippet, run_as_user

pytestmark = pytest.mark.slow


def test_an_embedded_adapter_zip_loads_by_its_hub_id_offline(tmp_path, embedded_dir, chat_file, monkeypatch):
    cfg = apply_overrides(RunConfig(), [f"data.path={chat_file}", "lora.r=4"])
    assert parse_model_ref(cfg.model.name_or_path).kind == "embedded"
    paths = new_run(tmp_path, cfg)
    tokenizer = AutoTokenizer.from_pretrained(embedded_dir)
    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(embedded_dir), lora)
    save_adapter(model, tokenizer, paths, cfg, tokenizer.chat_template)
    update_status(paths, state="completed", step=1, max_steps=1)
    recorded = json.loads((paths.adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert recorded == settings.EMBEDDED_PUBLIC_ID == "HuggingFaceTB/SmolLM2-135M-Instruct"

    # The documented mapping: the converted copy registered in the user's (here: a fresh) hub cache.
    hub_cache = tmp_path / "hub-cache"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(hub_cache)}
    proc = subprocess.run(
        [sys.executable, "-m", "lora_studio", "prepare-model", "--hub-cache"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "models--HuggingFaceTB--SmolLM2-135M-Instruct" in proc.stdout

    user = tmp_path / "user"
    with zipfile.ZipFile(exports.adapter_zip(paths)) as archive:
        archive.extractall(user)
    folder = user / f"{paths.run_id}-adapter"
    assert json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] == recorded
    got = run_as_user(user, card_snippet((folder / "README.md").read_text()), hub_cache)

    # LoRA Studio, offline with an empty hub cache, loads its own conversion for the recorded id.
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    model_dir = resolve_model_dir(parse_model_ref(recorded))
    assert model_dir == str(embedded_dir)
    base = load_model(ModelSettings(recorded, "float32"), model_dir, "cpu")
    tokenizer = AutoTokenizer.from_pretrained(paths.adapter)
    base_logits = logits(base, tokenizer)
    ours = logits(PeftModel.from_pretrained(base, paths.adapter), tokenizer)
    assert torch.allclose(got, ours, atol=1e-5)
    assert (got - base_logits).abs().max() > 1e-2  # the adapter was applied on the user's side too


def test_the_embedded_model_exports_as_a_q8_0_gguf_that_answers_like_it(tmp_path, embedded_dir):
    """The real SmolLM2 as q8_0: read back by transformers, same token ids, greedy answers mostly equal."""
    from lora_studio.engine.gguf_export import verify_gguf, write_gguf

    out = write_gguf(Path(embedded_dir), tmp_path / "smollm2-q8_0.gguf", "q8_0", settings.EMBEDDED_PUBLIC_ID, "s")
    report = verify_gguf(Path(embedded_dir), out, "q8_0", max_new_tokens=8)  # 8 tokens: CI time
    assert report["passed"] and report["same_token_ids"], report
    assert report["greedy_agreement"] >= 0.5 and report["next_token_agreement"] > 0.9
    assert out.stat().st_size < 0.3 * sum(f.stat().st_size for f in Path(embedded_dir).glob("*.safetensors"))
