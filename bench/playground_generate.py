"""Benchmark: Playground streaming generation vs plain `model.generate`, same model, prompt and tokens.

Run: .venv/bin/python bench/playground_generate.py → rewrites its section of docs/BENCHMARKS.md.

The Playground streams from a background thread through a TextIteratorStreamer that is also its
stopping criterion (Stop button), with adapters switched by set_adapter / disable_adapter. The
reference is what a user would write: load the model (and PeftModel.from_pretrained for the
adapter), then `model.generate(**inputs, max_new_tokens=N, do_sample=False)`. Greedy on both sides,
so both write the same tokens; tokens/s = new tokens / wall time of the call (median of 3).
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import write_section

PROMPT = "Write a long story about a robot who learns to garden, with many details."
NEW_TOKENS = 64
REPS = 3


def make_adapter(model_dir: str, out: Path) -> Path:
    """A LoRA adapter with non-zero weights (init_lora_weights=False), so it really changes the answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    peft_model = get_peft_model(
        model,
        LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM"),
    )
    for name, param in peft_model.named_parameters():
        if "lora_" in name:
            param.data.mul_(0.01)  # small, like a trained adapter, so greedy answers stay sensible
    peft_model.save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    return out


def ours(adapter_dir: Path) -> dict[str, list[tuple[float, int]]]:
    from lora_studio.adapter_uploads import import_files
    from lora_studio.engine.inference import GenerationSettings, Playground

    playground = Playground()
    playground.load_base("embedded")
    loaded = playground.load_adapter(import_files(sorted(adapter_dir.iterdir()), "bench-adapter"))
    settings = GenerationSettings(max_new_tokens=NEW_TOKENS, temperature=0)
    out: dict[str, list[tuple[float, int]]] = {"base": [], "adapter": []}
    for label, target in (("base", ""), ("adapter", loaded.key)):
        "".join(playground.stream(target, [{"role": "user", "content": "Hi"}], settings))  # warm-up
        for _ in range(REPS):
            started = time.perf_counter()
            generation = playground.stream(target, [{"role": "user", "content": PROMPT}], settings)
            "".join(generation)
            seconds = time.perf_counter() - started
            out[label].append((generation.tokens / seconds, generation.tokens))
    playground.unload_base()
    return out


def plain(model_dir: str, adapter_dir: Path) -> dict[str, list[tuple[float, int]]]:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], tokenize=False, add_generation_prompt=True
    )
    inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    out: dict[str, list[tuple[float, int]]] = {}
    for label in ("base", "adapter"):
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        if label == "adapter":
            model = PeftModel.from_pretrained(model, adapter_dir).eval()
        model.generate(**inputs, max_new_tokens=4, do_sample=False)  # warm-up
        out[label] = []
        for _ in range(REPS):
            started = time.perf_counter()
            with torch.inference_mode():
                result = model.generate(
                    **inputs, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id
                )
            seconds = time.perf_counter() - started
            tokens = int(result.shape[1] - inputs["input_ids"].shape[1])
            out[label].append((tokens / seconds, tokens))
    return out


def main() -> None:
    from lora_studio import settings

    os.environ.setdefault("LORA_STUDIO_MODEL_CACHE", str(settings.model_cache_dir()))  # keep the converted model
    with tempfile.TemporaryDirectory(prefix="lora-bench-pg-") as tmp:
        os.environ["LORA_STUDIO_HOME"] = tmp  # the imported adapter lands here, not in the user's home
        from lora_studio.engine.models import ensure_embedded_model

        model_dir = str(ensure_embedded_model())
        adapter = make_adapter(model_dir, Path(tmp) / "adapter")
        # Each side in a fresh process, as in real use: a user's script generates on its main thread; the
        # server never runs torch on its main thread (the Playground has its own torch thread). Sharing one
        # process would give the second side the first one's OpenMP team (see lora_studio/engine/inference.py).
        spawn = multiprocessing.get_context("spawn")
        with spawn.Pool(1, maxtasksperchild=1) as pool:
            reference = pool.apply(plain, (model_dir, adapter))
        with spawn.Pool(1, maxtasksperchild=1) as pool:
            studio = pool.apply(ours, (adapter,))
    rows = []
    for label in ("base", "adapter"):
        a = statistics.median(s for s, _ in studio[label])
        b = statistics.median(s for s, _ in reference[label])
        tokens = f"{studio[label][0][1]} / {reference[label][0][1]} new tokens"
        rows.append((f"{label}: Playground stream, tokens/s", f"{a:.1f}", tokens))
        rows.append((f"{label}: plain model.generate, tokens/s", f"{b:.1f}", "greedy, same prompt"))
        rows.append((f"**{label}: Playground / plain**", f"**{a / b:.2f}**", f"median of {REPS}"))
    print(
        write_section(
            "playground-generate",
            "Playground streaming vs plain generate",
            ".venv/bin/python bench/playground_generate.py",
            rows,
        )
    )


if __name__ == "__main__":
    main()
