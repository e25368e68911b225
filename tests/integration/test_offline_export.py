"""An exported adapter loads on another machine: its base is named by a public id, which plain transformers + peft
find in the Hugging Face cache offline, while LoRA Studio maps the same id to its own local weights."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from lora_studio import exports, settings
from lora_studio.config import RunConfig
from lora_studio.engine.merge import load_fp32_base
from lora_studio.engine.models import needs_conversion, register_in_hub_cache, resolve_model_dir
from lora_studio.engine.train import save_adapter
from lora_studio.modelref import parse_model_ref
from lora_studio.runs import RunPaths, update_status
from tests.integration.helpers import PROBE, logits, new_run, tiny_config

HUB_ID = "lora-studio-tests/tiny-llama"

# The card's own snippet, run as a user would: a fresh interpreter, no LoRA Studio on the path.
USER = """
import sys, torch
{snippet}
batch = tokenizer({probe!r}, return_tensors="pt")
with torch.no_grad():
    out = model(**batch).logits.float()
torch.save(out, sys.argv[1])
assert not any(m.startswith("lora_studio") for m in sys.modules), "LoRA Studio code was imported"
"""


def card_snippet(card: str) -> str:
    return re.search(r"```python\n(.*?)```", card, re.DOTALL).group(1)


def run_as_user(folder: Path, snippet: str, hub_cache: Path) -> torch.Tensor:
    out = folder / "user-logits.pt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LORA_STUDIO", "HF_", "PYTHONPATH"))}
    env.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(hub_cache), HF_HOME=str(folder / "hf-home"))
    proc = subprocess.run(
        [sys.executable, "-I", "-c", USER.format(snippet=snippet, probe=PROBE), str(out)],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out)


def adapter_run(tmp_path: Path, base_dir: Path, chat_file: Path) -> tuple[RunPaths, object]:
    """A finished run with a non-zero adapter (random B, no training needed), saved as training saves it."""
    cfg = tiny_config(base_dir, chat_file)
    paths = new_run(tmp_path, cfg)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir), lora)
    save_adapter(model, tokenizer, paths, cfg, tokenizer.chat_template)
    update_status(paths, state="completed", step=6, max_steps=6)
    return paths, model


def test_a_zipped_adapter_loads_by_its_hub_id_offline_with_plain_peft(tmp_path, tiny_copy, chat_file, monkeypatch):
    config = json.loads((tiny_copy / "config.json").read_text())
    (tiny_copy / "config.json").write_text(json.dumps({**config, "_name_or_path": HUB_ID}))  # as it came from the Hub
    paths, _ = adapter_run(tmp_path, tiny_copy, chat_file)
    recorded = json.loads((paths.adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert recorded == HUB_ID  # the run's own adapter names it too, not the folder it loaded from

    hub_cache = tmp_path / "user-hub-cache"
    snapshot = register_in_hub_cache(tiny_copy, HUB_ID, hub_cache)
    user = tmp_path / "user"
    with zipfile.ZipFile(exports.adapter_zip(paths)) as archive:
        archive.extractall(user)
    card = (user / f"{paths.run_id}-adapter" / "README.md").read_text()
    got = run_as_user(user, card_snippet(card), hub_cache)

    # LoRA Studio's own loading (the base as merge loads it, then the run's adapter) gives the same logits.
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    assert resolve_model_dir(parse_model_ref(HUB_ID)) == str(snapshot)
    base, _ = load_fp32_base(RunConfig.load(paths.config))
    tokenizer = AutoTokenizer.from_pretrained(paths.adapter)
    base_logits = logits(base, tokenizer)
    ours = logits(PeftModel.from_pretrained(base, paths.adapter), tokenizer)
    assert torch.allclose(got, ours, atol=1e-5)
    assert (got - base_logits).abs().max() > 1e-3  # the LoRA weights were applied, not silently left out


def test_lora_studio_finds_local_weights_for_the_embedded_hub_id_offline(
    tmp_path, tiny_copy, embedded_dir, monkeypatch
):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    ref = parse_model_ref(settings.EMBEDDED_PUBLIC_ID)
    assert ref.kind == "hub"  # typed on its own it is still the Hub model; offline its local copy stands in
    assert resolve_model_dir(ref) == str(embedded_dir)
    assert needs_conversion(settings.EMBEDDED_PUBLIC_ID) is False
    # A copy in the hub cache (a real download, or the one `prepare-model --hub-cache` registers) comes first.
    snapshot = register_in_hub_cache(tiny_copy, settings.EMBEDDED_PUBLIC_ID, tmp_path / "cache")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert resolve_model_dir(ref) == str(snapshot)


def test_registering_leaves_a_real_download_alone_and_replaces_its_own_older_copy(tmp_path, tiny_copy):
    cache = tmp_path / "cache"
    first = register_in_hub_cache(tiny_copy, HUB_ID, cache)
    assert first.parent.parent.name == "models--lora-studio-tests--tiny-llama"
    assert (first / "model.safetensors").stat().st_ino == (tiny_copy / "model.safetensors").stat().st_ino  # linked
    assert register_in_hub_cache(tiny_copy, HUB_ID, cache) == first  # nothing changed: the same snapshot
    (tiny_copy / "generation_config.json").write_text("{}")  # the folder changed (a new conversion, say)
    second = register_in_hub_cache(tiny_copy, HUB_ID, cache)
    assert second != first and not first.exists()  # our older registration is replaced, not left to pile up
    # A real download of the id (no registration of ours) is never replaced.
    real = cache / "models--org--real"
    (real / "snapshots" / ("b" * 40)).mkdir(parents=True)
    (real / "snapshots" / ("b" * 40) / "config.json").write_text("{}")
    (real / "refs").mkdir()
    (real / "refs" / "main").write_text("b" * 40)
    assert register_in_hub_cache(tiny_copy, "org/real", cache) == real / "snapshots" / ("b" * 40)
    assert (real / "refs" / "main").read_text() == "b" * 40
