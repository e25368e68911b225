"""Shared fixtures. Tests run offline (HF_HUB_OFFLINE=1) and never write into the user's home:
each test gets its own LORA_STUDIO_HOME, while the converted embedded model is shared."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from lora_studio import settings

# Resolved once with the caller's environment, before per-test homes take over.
os.environ["LORA_STUDIO_MODEL_CACHE"] = str(settings.model_cache_dir())

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = settings.SAMPLES_DIR  # shipped inside the package
SAMPLE_CHAT = SAMPLES / "chat-assistant.jsonl"

# Every test carries the marker of its folder (declared in pyproject.toml), so `-m` selects by kind:
# `make test-fast` deselects e2e (the only tests that need Chromium) and slow.
FOLDER_MARKERS = ("unit", "integration", "e2e", "slow")
# The order in which `make test` hands the folders to its two pytest workers (pytest-xdist, --dist loadgroup,
# --no-loadscope-reorder): the browser tests first, as one group that runs on one worker one test at a time
# (each drives a server, a worker and Chromium, and their waits are timed), beside them the real-model tests,
# then the rest, each module a unit that stays on one worker (its module fixtures are built once).
RUN_ORDER = ("e2e", "slow", "integration", "unit")
BROWSER_GROUP = "browser"


def _folder(item) -> str:
    tests = Path(__file__).resolve().parent
    path = Path(item.path).resolve()
    return path.relative_to(tests).parts[0] if path.is_relative_to(tests) else ""


def pytest_collection_modifyitems(config, items):
    for item in items:
        folder = _folder(item)
        if folder not in FOLDER_MARKERS:
            raise pytest.UsageError(
                f"{item.nodeid}: put the test in one of tests/{{{','.join(FOLDER_MARKERS)}}}/ so it gets its marker"
            )
        item.add_marker(getattr(pytest.mark, folder))
        item.add_marker(pytest.mark.xdist_group(BROWSER_GROUP if folder == "e2e" else item.nodeid.split("::")[0]))
    items.sort(key=lambda item: RUN_ORDER.index(_folder(item)))  # stable: a module's tests stay together


@pytest.fixture(autouse=True)
def studio_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "studio-home"
    monkeypatch.setenv("LORA_STUDIO_HOME", str(home))
    return home


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def chat_file(tmp_path) -> Path:
    """40 rows of the shipped sample chat data."""
    lines = SAMPLE_CHAT.read_text(encoding="utf-8").splitlines()[:40]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def embedded_dir() -> Path:
    """The converted embedded SmolLM2 (made by `make setup`; converted here if missing)."""
    from lora_studio.engine.models import ensure_embedded_model

    return ensure_embedded_model()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, embedded_dir) -> Path:
    """A tiny random Llama with the real SmolLM2 tokenizer: trains in seconds on CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    out = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(embedded_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture
def tiny_copy(tmp_path, tiny_model_dir) -> Path:
    """A private copy, for tests that must prove the original base stays untouched."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "tiny"))
