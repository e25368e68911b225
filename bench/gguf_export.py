"""Benchmark: GGUF export of the embedded model per type, side by side with the merged float32 safetensors.

Run: .venv/bin/python bench/gguf_export.py → rewrites its section of docs/BENCHMARKS.md.

The embedded SmolLM2-135M-Instruct (a float32 safetensors folder) stands for the merged model. For each type
(q8_0, f16, bf16, f32): the time of `write_gguf` and, separately, of `verify_gguf` (transformers' GGUF loader
reads the file back and compares it with the merged model: max logit difference, greedy answers, next-token
picks), and the file's size beside the float32 safetensors'. The reference is what one writes by hand to ship
the merged model: `model.save_pretrained` in float32, timed in the same run. One run each: the writes take
seconds, the four verifications most of the ~7 minutes on 2 cores (16 greedy tokens on 8 prompts, twice).
Files go to a temporary folder, deleted after.

If `llama_cpp` (llama-cpp-python) imports, the q8_0 file is also loaded in llama.cpp and its greedy answers
(temperature 0, 16 tokens) on the chat prompts are compared with the merged model's. It is not installed here
(it compiles llama.cpp from source and the project does not depend on it); the bench never installs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import write_section

QTYPES = ("q8_0", "f16", "bf16", "f32")
PUBLIC_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
MAX_NEW_TOKENS = 16
MB = 1e6


def folder_bytes(path: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in path.glob(pattern) if p.is_file())


def llama_cpp_agreement(model_dir: Path, gguf_path: Path) -> tuple[int, int, list[tuple[str, str, str]]]:
    """Greedy answers of llama.cpp on the q8_0 file vs the merged model: (equal, prompts, differing)."""
    import llama_cpp
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lora_studio.engine.gguf_export import VERIFY_PROMPTS, _answer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    merged = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    llm = llama_cpp.Llama(model_path=str(gguf_path), verbose=False, n_ctx=512)
    equal, differing = 0, []
    for prompt in VERIFY_PROMPTS:
        _, _, ours = _answer(merged, tokenizer, prompt, MAX_NEW_TOKENS)
        out = llm.create_chat_completion(
            messages=[{"role": "user", "content": prompt}], temperature=0.0, max_tokens=MAX_NEW_TOKENS
        )
        theirs = out["choices"][0]["message"]["content"] or ""
        if ours.strip() == theirs.strip():
            equal += 1
        else:
            differing.append((prompt, ours, theirs))
    return equal, len(VERIFY_PROMPTS), differing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()

    from lora_studio import settings

    os.environ.setdefault("LORA_STUDIO_MODEL_CACHE", str(settings.model_cache_dir()))  # keep the converted model
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    from lora_studio.engine.gguf_export import gguf_name, verify_gguf, write_gguf
    from lora_studio.engine.models import ensure_embedded_model

    started = time.monotonic()
    model_dir = Path(ensure_embedded_model())
    name = model_dir.name
    table: list[tuple[str, str, str]] = []
    q8_path: Path | None = None
    llama_note = ""
    with tempfile.TemporaryDirectory(prefix="bench-gguf-") as tmp:
        tmp_dir = Path(tmp)
        # Reference: load the merged model and save it again as float32 safetensors (the save alone is timed).
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        t0 = time.perf_counter()
        model.save_pretrained(tmp_dir / "safetensors")
        save_s = time.perf_counter() - t0
        del model
        st_bytes = folder_bytes(tmp_dir / "safetensors", "*.safetensors")
        print(f"save_pretrained float32: {save_s:.1f} s, {st_bytes / MB:.0f} MB", flush=True)
        table.append(
            (
                "merged model, `save_pretrained` float32 safetensors (reference)",
                f"{save_s:.1f} s, {st_bytes / MB:.0f} MB",
                f"1.00× the size; the embedded folder is {folder_bytes(model_dir) / MB:.0f} MB with tokenizer "
                "and config",
            )
        )
        for qtype in QTYPES:
            out = tmp_dir / gguf_name(name, qtype)
            t0 = time.perf_counter()
            write_gguf(model_dir, out, qtype, PUBLIC_ID, name)
            write_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            report = verify_gguf(model_dir, out, qtype, MAX_NEW_TOKENS)
            verify_s = time.perf_counter() - t0
            size = out.stat().st_size
            n = len(report["prompts"])
            greedy = round(report["greedy_agreement"] * n)
            print(
                f"{qtype}: write {write_s:.1f} s, verify {verify_s:.1f} s, {size / MB:.0f} MB, "
                f"passed {report['passed']}, max logit diff {report['max_logit_diff']:.3g}, "
                f"greedy {greedy}/{n}, next-token {report['next_token_agreement']:.1%}",
                flush=True,
            )
            tolerance = report["logit_tolerance"]
            bound = f" (≤ {tolerance:g})" if tolerance is not None else " (not judged: quantized)"
            table.append(
                (
                    f"**GGUF {qtype}**: `write_gguf` / `verify_gguf`",
                    f"{write_s:.1f} s / {verify_s:.1f} s, {size / MB:.0f} MB",
                    f"{size / st_bytes:.2f}× the safetensors' size, write {write_s / save_s:.1f}× the save; "
                    f"verify {'passed' if report['passed'] else '**failed**'}: max logit diff "
                    f"{report['max_logit_diff']:.3g}{bound}, greedy answers {greedy}/{n} equal "
                    f"(needs ≥ {report['min_agreement']:.0%}), next-token picks "
                    f"{report['next_token_agreement']:.1%} equal",
                )
            )
            if qtype == "q8_0":
                q8_path = out
            elif out.exists():
                out.unlink()
        try:
            import llama_cpp
        except ImportError:
            llama_note = (
                "not run: llama-cpp-python is not installed here (it compiles llama.cpp from source, several "
                "minutes, and LoRA Studio does not depend on it; `pip download` finds its source release); only "
                "transformers' GGUF loader read the files"
            )
            table.append(("llama.cpp greedy answers vs merged (q8_0)", "not run", llama_note))
        else:
            assert q8_path is not None
            equal, total, differing = llama_cpp_agreement(model_dir, q8_path)
            for prompt, ours, theirs in differing:
                print(f"differs on {prompt!r}:\n  merged:    {ours!r}\n  llama.cpp: {theirs!r}")
            table.append(
                (
                    "llama.cpp greedy answers vs merged (q8_0)",
                    f"{equal}/{total} equal",
                    f"llama-cpp-python {llama_cpp.__version__}, `Llama(model_path=…)`, chat completion at "
                    f"temperature 0, {MAX_NEW_TOKENS} tokens, the verify prompts",
                )
            )
    table.append(
        (
            "torch threads / transformers",
            f"{torch.get_num_threads()} / {transformers.__version__}",
            f"one run each, all in this process; the whole benchmark took {time.monotonic() - started:.0f} s",
        )
    )
    if args.no_write:
        print("\n".join(f"| {a} | {b} | {c} |" for a, b, c in table))
        return
    command = ".venv/bin/python bench/gguf_export.py (one run each)"
    title = "GGUF export per type vs float32 safetensors (embedded SmolLM2)"
    print(write_section("gguf-export", title, command, table))


if __name__ == "__main__":
    main()
