"""A merged model → one GGUF file for llama.cpp, Ollama and LM Studio, written with the `gguf` package (no C++
build, no llama.cpp checkout), then verified by reading it back with transformers' GGUF loader.

What llama.cpp needs and this writes: the architecture's hyper-parameters and rope settings, the tokenizer
(tokens, types, merges, special ids, add-bos/eos, the pre-tokenizer's name) and the chat template; tensor names
through gguf's tensor-name map; the query/key rows permuted the way llama.cpp's rope expects for Llama models;
1-D tensors (norms) kept in f32; tied embeddings written once. Models whose architecture or pre-tokenizer this
does not know are refused in words before any work.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lora_studio.errors import ModelError
from lora_studio.gguf_files import GGUF_TYPES
from lora_studio.messages import text

log = logging.getLogger(__name__)

ARCHITECTURES = {"LlamaForCausalLM": "llama"}  # next: Qwen2ForCausalLM, MistralForCausalLM, Gemma
# llama.cpp names each BPE pre-tokenizer (how text is split before the merges); it tells them apart by hashing
# what a tokenizer makes of a test text. These families are known to use the named one.
PRE_TOKENIZERS = (
    ("HuggingFaceTB/SmolLM", "smollm"),
    ("meta-llama/Llama-3", "llama-bpe"),
    ("meta-llama/Meta-Llama-3", "llama-bpe"),
)
VERIFY_PROMPTS = (
    "What is the capital of France?",
    "Write one sentence about the sea.",
    "What is 12 plus 30?",
    "Name three colours.",
    "How many days are in a week?",
    "Say hello in French.",
    "What is the opposite of 'hot'?",
    "Give me a word that rhymes with 'cat'.",
)
# Max |logit difference| from the merged float32 model along its own answers (SmolLM2-135M measured: f16 0.075,
# bf16 ~0.5; both well below what changes an answer); quantized types are judged on the answers alone.
LOGIT_TOLERANCE = {"f32": 1e-3, "f16": 0.25, "bf16": 1.5}
# Greedy answers (16 tokens) equal on at least this share of the prompts. bf16 (8 mantissa bits) and q8_0 round
# every weight: an answer may take another, nearly as likely word at some point (SmolLM2-135M measured: bf16 5/8
# prompts equal, q8_0 6/8), so half, not all; the share of answer positions choosing the same next token is
# reported beside it.
MIN_AGREEMENT = {"f32": 1.0, "f16": 1.0, "bf16": 0.5, "q8_0": 0.5}


def gguf_name(model_name: str, qtype: str) -> str:
    return f"{model_name}-{qtype}.gguf"


def plan(model_dir: Path, public_id: str) -> tuple[str, str]:
    """(llama.cpp architecture, pre-tokenizer name) for a merged model folder, or a refusal in words."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    archs = config.get("architectures") or ["?"]
    if archs[0] not in ARCHITECTURES:
        raise ModelError(
            text("engine.gguf_architecture", architecture=archs[0]),
            text("engine.gguf_architecture_hint", supported=", ".join(ARCHITECTURES)),
        )
    rope = config.get("rope_parameters") or {}
    if config.get("rope_scaling") or rope.get("rope_type", "default") != "default":
        raise ModelError(text("engine.gguf_rope"), text("engine.gguf_rope_hint"))
    pre = next((name for prefix, name in PRE_TOKENIZERS if public_id.startswith(prefix)), None)
    if pre is None and _splits_like_smollm2(model_dir):
        pre = "smollm"  # e.g. a local copy or a fine-tune of SmolLM2 that lost its hub id
    if pre is None:
        known = ", ".join(prefix + "…" for prefix, _ in PRE_TOKENIZERS)
        raise ModelError(
            text("engine.gguf_pre_tokenizer", model=public_id), text("engine.gguf_pre_tokenizer_hint", known=known)
        )
    return ARCHITECTURES[archs[0]], pre


# llama.cpp's own test text for telling pre-tokenizers apart: spaces, digits, punctuation, several scripts.
_PROBE_TEXT = "Hello world\n\n 3333 33333 e.g. can't I've ¿Qué? 🚀 (x)=>{} ----==== 日本語 ١٢٣ ﷺ\t\ttabs"


def _splits_like_smollm2(model_dir: Path) -> bool:
    """True when the folder's tokenizer splits a test text into exactly the ids SmolLM2's does (the embedded
    model's tokenizer, always at hand offline)."""
    from transformers import AutoTokenizer

    from lora_studio.engine.models import ensure_embedded_model

    try:
        mine = AutoTokenizer.from_pretrained(model_dir)
        smollm2 = AutoTokenizer.from_pretrained(ensure_embedded_model())
    except (OSError, ValueError):
        return False
    return len(mine) == len(smollm2) and mine(_PROBE_TEXT)["input_ids"] == smollm2(_PROBE_TEXT)["input_ids"]


def rope_theta(config: dict) -> float:
    """The rope base: transformers 5 keeps it under rope_parameters, older configs at the top level."""
    rope = config.get("rope_parameters") or {}
    return float(rope.get("rope_theta") or config.get("rope_theta") or 10000.0)


def permute(weights: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """llama.cpp's rope pairs dimensions (i, i + d/2) as (2i, 2i+1): reorder the q/k rows to match."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    shape = weights.shape
    return weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def _token_metadata(tokenizer, vocab_size: int) -> tuple[list[str], list[int], list[str]]:
    import gguf

    vocab = tokenizer.get_vocab()
    by_id = {i: t for t, i in vocab.items()}
    added = tokenizer.get_added_vocab()
    special = set(tokenizer.all_special_tokens)
    tokens, types = [], []
    for i in range(max(vocab_size, len(by_id))):
        token = by_id.get(i)
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif token in added:
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL if token in special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(token)
            types.append(gguf.TokenType.NORMAL)
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    if model.get("type") != "BPE":
        raise ModelError(text("engine.gguf_needs_bpe"), text("engine.export_merged_instead"))
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return tokens, [int(t) for t in types], merges


def _tensor(data: np.ndarray, qtype: str) -> tuple[np.ndarray, Any]:
    """(array, raw dtype) of one tensor in the file's type; 1-D tensors and odd shapes stay f32/f16."""
    import gguf

    if data.ndim == 1 or qtype == "f32":
        return data.astype(np.float32), gguf.GGMLQuantizationType.F32
    if qtype == "f16":
        return data.astype(np.float16), gguf.GGMLQuantizationType.F16
    kind = gguf.GGMLQuantizationType.BF16 if qtype == "bf16" else gguf.GGMLQuantizationType.Q8_0
    if kind == gguf.GGMLQuantizationType.Q8_0 and data.shape[-1] % 32:
        return data.astype(np.float16), gguf.GGMLQuantizationType.F16  # q8_0 blocks are 32 wide
    return gguf.quants.quantize(data.astype(np.float32), kind), kind


def write_gguf(model_dir: Path, out: Path, qtype: str, public_id: str, name: str) -> Path:
    """Write `model_dir` (a merged float32 model with its tokenizer) as one GGUF file of type `qtype`."""
    import gguf
    from safetensors.numpy import load_file
    from transformers import AutoTokenizer

    if qtype not in GGUF_TYPES:
        raise ModelError(
            text("exports.unknown_gguf_type", qtype=qtype), text("exports.choose_one", choices=", ".join(GGUF_TYPES))
        )
    arch, pre = plan(model_dir, public_id)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    n_head, n_kv = config["num_attention_heads"], config.get("num_key_value_heads") or config["num_attention_heads"]
    n_layers, hidden = config["num_hidden_layers"], config["hidden_size"]
    head_dim = config.get("head_dim") or hidden // n_head
    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_name(name)
    writer.add_context_length(config.get("max_position_embeddings", 2048))
    writer.add_embedding_length(hidden)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_freq_base(rope_theta(config))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(config["vocab_size"])
    file_types = {"f32": 0, "f16": 1, "q8_0": 7, "bf16": 32}
    writer.add_file_type(file_types[qtype])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    tokens, types, merges = _token_metadata(tokenizer, config["vocab_size"])
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for setter, token in (
        (writer.add_bos_token_id, tokenizer.bos_token),
        (writer.add_eos_token_id, tokenizer.eos_token),
        (writer.add_unk_token_id, tokenizer.unk_token),
        (writer.add_pad_token_id, tokenizer.pad_token),
    ):
        if isinstance(token, str):
            setter(tokenizer.get_vocab()[token])
    probe = tokenizer("a")["input_ids"]
    writer.add_add_bos_token(bool(probe) and probe[0] == tokenizer.bos_token_id)
    writer.add_add_eos_token(bool(probe) and probe[-1] == tokenizer.eos_token_id and len(probe) > 1)
    if isinstance(tokenizer.chat_template, str):
        writer.add_chat_template(tokenizer.chat_template)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    state: dict[str, np.ndarray] = {}
    for file in sorted(model_dir.glob("*.safetensors")):
        state.update(load_file(file))
    for key, data in state.items():
        if key == "lm_head.weight" and config.get("tie_word_embeddings"):
            continue  # llama.cpp uses token_embd when output.weight is absent
        target = names.get_name(key, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise ModelError(text("engine.gguf_tensor", tensor=key), text("engine.export_merged_instead"))
        if key.endswith("self_attn.q_proj.weight"):
            data = permute(data, n_head, n_head)
        elif key.endswith("self_attn.k_proj.weight"):
            data = permute(data, n_head, n_kv)
        array, raw = _tensor(data, qtype)
        writer.add_tensor(target, array, raw_dtype=raw)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


@torch.inference_mode()
def _answer(model, tokenizer, prompt: str, max_new_tokens: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(prompt ids, the ids of prompt + greedy answer, the answer's text)."""
    messages = [{"role": "user", "content": prompt}]
    if tokenizer.chat_template:
        rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        rendered = prompt
    ids = tokenizer(rendered, add_special_tokens=False, return_tensors="pt")["input_ids"]
    out = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        do_sample=False,
        max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
    )
    return ids, out, tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def verify_gguf(model_dir: Path, gguf_path: Path, qtype: str, max_new_tokens: int = 16) -> dict:
    """Read the file back with transformers' GGUF loader (not our code) and compare it with the merged model on
    fixed prompts: the tokenizer's ids, the logits along the merged model's own answer (their largest
    difference, within LOGIT_TOLERANCE for unquantized types, and how often both pick the same next token), and
    the greedy answers (equal on at least MIN_AGREEMENT of the prompts)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged_tok = AutoTokenizer.from_pretrained(model_dir)
    merged = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    gguf_tok = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    reread = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    reread.eval()
    prompts = []
    max_diff, agree, same_tokens, picks, positions = 0.0, 0, True, 0, 0
    with torch.inference_mode():
        for prompt in VERIFY_PROMPTS:
            same_tokens = same_tokens and merged_tok(prompt)["input_ids"] == gguf_tok(prompt)["input_ids"]
            ids, full, a_text = _answer(merged, merged_tok, prompt, max_new_tokens)
            _, _, b_text = _answer(reread, merged_tok, prompt, max_new_tokens)
            a_logits, b_logits = merged(full).logits.float(), reread(full).logits.float()
            diff = float((a_logits - b_logits).abs().max()) if a_logits.shape == b_logits.shape else math.inf
            start = ids.shape[1] - 1  # the positions that choose the answer's tokens
            same = (a_logits[0, start:].argmax(-1) == b_logits[0, start:].argmax(-1)) if diff < math.inf else None
            picks += int(same.sum()) if same is not None else 0
            positions += int(same.numel()) if same is not None else 1
            max_diff = max(max_diff, diff)
            agree += a_text == b_text
            prompts.append({"prompt": prompt, "merged": a_text, "gguf": b_text, "max_logit_diff": diff})
    agreement = agree / len(VERIFY_PROMPTS)
    tolerance = LOGIT_TOLERANCE.get(qtype)
    passed = same_tokens and agreement >= MIN_AGREEMENT[qtype] and (tolerance is None or max_diff <= tolerance)
    return {
        "type": qtype,
        "passed": bool(passed),
        "reader": "transformers GGUF loader",
        "same_token_ids": bool(same_tokens),
        "max_logit_diff": max_diff,
        "logit_tolerance": tolerance,
        "next_token_agreement": picks / max(positions, 1),
        "greedy_agreement": agreement,
        "min_agreement": MIN_AGREEMENT[qtype],
        "prompts": prompts,
        "size_bytes": gguf_path.stat().st_size,
    }
